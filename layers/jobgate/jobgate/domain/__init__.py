"""Pure domain logic: no AWS calls here, so it can be tested without mocks."""
