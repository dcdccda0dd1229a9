"""Objects built when first used: what a function may not need on a request costs it nothing.

A cold start pays for everything built before the first answer. Building a boto3 client
costs tens of milliseconds (S3's the most: boto3 loads its transfer manager with it) and
the job type registry imports every job type's models, so the wiring hands services these
through `on_first_use`: the API's `GET /jobs/{id}` builds only the DynamoDB client.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, cast

from pydantic import BaseModel, ConfigDict


class _BuiltOnFirstUse:
    def __init__(self, build: Callable[[], object]) -> None:
        self._build = build

    def __getattr__(self, name: str) -> Any:
        return getattr(self._build(), name)


def on_first_use[T](build: Callable[[], T]) -> T:
    """A stand-in for `build()` that calls it when one of its attributes is first used.

    It calls `build` on every use, so `build` must be cached (the factories of `jobgate.aws`,
    `registry.load_registry`): after the first, a use costs a cache lookup. Only attribute
    access is forwarded (method calls, `.meta`), not operators or `isinstance`.
    """
    return cast("T", _BuiltOnFirstUse(build))


class LazyModel(BaseModel):
    """The base of jobgate's pydantic models: a model's validator and serializer are built when
    it is first used, not when its class is defined (pydantic's `defer_build`).

    Building them at import cost every cold start ~100 ms (the API's the most), for models
    most requests never touch: `GET /jobs/{id}` uses the job's, not the submit's, the
    listing's or the background check's. Subclasses' `model_config` merges with this one.
    """

    model_config = ConfigDict(defer_build=True)

    @classmethod
    def model_rebuild(
        cls,
        *,
        force: bool = False,
        raise_errors: bool = True,
        _parent_namespace_depth: int = 2,
        _types_namespace: Mapping[str, Any] | None = None,
    ) -> bool | None:
        """pydantic's first build, one at a time: it is not thread-safe in 2.13 (pydantic issue 13419), and
        the webhook functions process a batch's records in threads."""
        with _BUILDING:
            return super().model_rebuild(
                force=force,
                raise_errors=raise_errors,
                # pydantic reads the namespace this many frames up; this method is one more.
                _parent_namespace_depth=_parent_namespace_depth + 1 if _parent_namespace_depth > 0 else 0,
                _types_namespace=_types_namespace,
            )


_BUILDING = threading.RLock()
