"""The points table: one place that the CLI, the notebooks and the bundles read.

Each graded part is one name the student defines at top level. A part's
points are shared among its checks in proportion to their weights (each check
declares its weight where it is defined, public or hidden).
"""

# part id -> (graded name, points). Total 100.
PARTS = {
    "sampler": ("Sampler", 15),
    "kl_loss": ("kl_loss", 15),
    "diffusion_schedule": ("diffusion_schedule", 15),
    "denoise": ("denoise", 15),
    "generate": ("generate", 20),
    "slerp": ("slerp", 20),
}

TOTAL_POINTS = sum(points for _, points in PARTS.values())
assert TOTAL_POINTS == 100, TOTAL_POINTS


def graded_name(part):
    return PARTS[part][0]


def part_points(part):
    return PARTS[part][1]
