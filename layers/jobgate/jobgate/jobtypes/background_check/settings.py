"""Settings of the background-check functions and route, read from each function's environment."""

from __future__ import annotations

from pydantic import Field

from jobgate.jobtypes.settings import JobTypeSettings

# Used when the environment does not say (unit tests): the template parameter's default.
DEFAULT_VENDOR_CHECK_TIMEOUT_SECONDS = 86400


class BackgroundCheckSettings(JobTypeSettings):
    vendor_api_url: str = Field(default="", alias="VENDOR_API_URL")
    # Where vendors call back; the local stack replaces it with its own URL.
    api_base_url: str = Field(default="", alias="API_BASE_URL")
    # The Secrets Manager secret vendors sign with; its value is read when a callback arrives
    # (wiring.callback_resumer), never put in the environment. Empty: no callback verifies.
    vendor_callback_secret_arn: str = Field(default="", alias="VENDOR_CALLBACK_SECRET_ARN")
    vendor_check_timeout_seconds: int = Field(
        default=DEFAULT_VENDOR_CHECK_TIMEOUT_SECONDS, ge=1, alias="VENDOR_CHECK_TIMEOUT_SECONDS"
    )
