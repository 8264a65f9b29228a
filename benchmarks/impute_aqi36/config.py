"""Constants and the settings of one AQI-36 benchmark run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

WINDOW = 36
METHODS = ("tsdiff", "pypots", "iterative", "linear")
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "results" / "impute_aqi36.json"
QUICK_BUDGET_MINUTES = 0.75
QUICK_TEST_HOURS = 108
QUICK_N_SAMPLES = 4
LR_MILESTONES = (0.75, 0.9)  # CSDI's MultiStepLR milestones, as fractions of the budget
COVERAGE_LEVEL = 0.9
TARGETS = {"mae_margin_ddim_vs_ddpm": 0.03, "impute_speedup": 10.0, "train_speedup": 1.5}
# (sampler, timestep spacing, smallest number of network calls) rows of --sampler-table
SAMPLER_TABLE = (
    ("ddim", "linspace", 1),
    ("ddim", "trailing", 1),
    ("dpmpp_2m", "linspace", 1),
    ("dpmpp_2m", "trailing", 1),
    ("ddpm", "linspace", 10),
)
DEFAULT_NFE = (1, 2, 4, 10)


@dataclass
class BenchConfig:
    """Every setting of one benchmark run (serialised into the JSON)."""

    methods: list[str] = field(default_factory=lambda: list(METHODS))
    budget_minutes: float = 20.0
    n_samples: int = 16
    ddim_steps: int = 10
    threads: int = 2
    seed: int = 0
    quick: bool = False
    test_hours: int | None = None
    precision: str = "32-true"
    accelerator: str = "cpu"
    batch_size: int = 16
    learning_rate: float = 1e-3
    weight_decay: float = 1e-6
    patience: int | None = None
    inference_batch_size: int | None = None
    inference_stride: int | None = None
    pypots_val_stride: int = WINDOW
    pypots_val_hide: float = 0.1
    pypots_predict_batch_size: int = 16
    iterative_max_iter: int = 10
    verbose: bool = False
    sampler_table: bool = False
    nfe: list[int] = field(default_factory=lambda: list(DEFAULT_NFE))

    @property
    def budget_seconds(self) -> float:
        """The training budget in seconds."""
        return 60.0 * self.budget_minutes
