"""Training of routing policies with Lightning: REINFORCE and imitation, baselines, data,
labels, checkpoints (``nco.training.checkpoint.load_policy`` / ``save_policy``).

Nothing is imported here, so that ``nco.training.config`` stays light for the command line.
"""
