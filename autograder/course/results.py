"""What `genimg-grade reconcile` found: one `Row` per student and part, and
the CSV it writes them to (COURSE_DIR/reconcile/<ASSIGNMENT>.csv), which the
class report reads back as Rows (its text cells escaped against spreadsheet
formulas and read back exactly, `writers.write_csv`)."""

import dataclasses

from autograder import writers

CSV_FIELDS = ["student", "part", "in_kernel", "isolated", "flagged", "reason",
              "notebook", "cell", "max_score", "status"]


@dataclasses.dataclass
class Row:
    student: str
    part: str
    in_kernel: float | None
    isolated: float
    flagged: bool
    reason: str
    notebook: str
    cell: str
    max_score: float
    status: str

    def as_csv(self):
        return {
            "student": self.student, "part": self.part,
            "in_kernel": "" if self.in_kernel is None else round(self.in_kernel, 4),
            "isolated": round(self.isolated, 4), "flagged": str(self.flagged).lower(),
            "reason": self.reason, "notebook": self.notebook, "cell": self.cell,
            "max_score": self.max_score, "status": self.status,
        }

    @classmethod
    def from_csv(cls, row):
        return cls(row["student"], row["part"], float(row["in_kernel"]) if row["in_kernel"] else None,
                   float(row["isolated"]), row["flagged"] == "true", row["reason"], row["notebook"],
                   row["cell"], float(row["max_score"]), row["status"])


def read_csv(path):
    """The rows a `write_csv` wrote (genimg-grade reconcile's CSV), as Rows."""
    return [Row.from_csv(row) for row in writers.read_csv(path)]


def write_csv(rows, path):
    writers.write_csv(path, CSV_FIELDS, (row.as_csv() for row in rows))
