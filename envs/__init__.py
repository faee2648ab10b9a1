"""Problem data for learning: city pools, instance generators and batched TensorDict environments."""
