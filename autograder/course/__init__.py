"""nbgrader courses: `reconcile` re-grades an autograded course in isolation and
writes the isolated points into its gradebook; `results`, what it found (one
Row per student and part) and its CSV, which the class report reads back."""
