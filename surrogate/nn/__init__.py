"""Networks: generic (features in, features out) and unaware of the physics."""
