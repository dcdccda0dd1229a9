"""Objects built when first used: what a function may not need on a request costs it nothing.

A cold start pays for everything built before the first answer. Building a boto3 client
costs tens of milliseconds (S3's the most: boto3 loads its transfer manager with it) and
the job type registry imports every job type's models, so the wiring hands services these
through `on_first_use`: the API's `GET /jobs/{id}` builds only the DynamoDB client.
"""

from __future__ import annotations

from collections.abc import Callable
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

    Building them at import cost every cold start ~100 ms (the first build also loads pydantic's
    schema machinery), for models most requests never touch: `GET /jobs/{id}` uses the job's,
    not the submit's, the listing's or the background check's. Subclasses' `model_config`
    merges with this one.
    """

    model_config = ConfigDict(defer_build=True)
