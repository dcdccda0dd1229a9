"""HTTP simulators of third parties (payment, shipping, vendors) that the local stack runs.

Like a provider's sandbox, each behaves normally except on magic test values (a declined
card token, an unknown postcode...), never on flags a production request could not carry.
"""
