"""The order-fulfillment saga: stock reservations, payment and shipping providers, compensations."""
