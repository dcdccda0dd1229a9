"""jobgate's Python client: talk to a jobgate API without writing the polling loop yourself."""

# --- Receiving webhooks (jobgate_client.webhooks) ---
# Re-exported with `as` (no __all__ entries), so this block merges beside the HTTP client's.
from jobgate_client.webhooks import InvalidWebhook as InvalidWebhook
from jobgate_client.webhooks import MemorySeenStore as MemorySeenStore
from jobgate_client.webhooks import Outcome as Outcome
from jobgate_client.webhooks import SeenStore as SeenStore
from jobgate_client.webhooks import Verdict as Verdict
from jobgate_client.webhooks import WebhookEvent as WebhookEvent
from jobgate_client.webhooks import WebhookReceiver as WebhookReceiver
from jobgate_client.webhooks import WebhookVerifier as WebhookVerifier

# --- end of receiving webhooks ---
