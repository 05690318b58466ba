"""nbgrader courses: `reconcile` re-grades an autograded course in isolation and
writes the isolated points into its gradebook."""
