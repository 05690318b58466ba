"""genimg's grader: reads a submission, runs its graded names in a sandboxed
child process, checks them with the public and hidden batteries, and writes
the result for people (text), Gradescope and GitHub Classroom.

The student's code never runs in this process.
"""
