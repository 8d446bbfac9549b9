"""The cluster side of issue 13 §4: a Slurm adapter that acts on the controller's compute budget."""
