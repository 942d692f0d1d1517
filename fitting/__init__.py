"""scalinglaw's fitting engine: laws, robust batched fits, acceleration and compression maths.

Pure numpy/scipy/lmfit; no torch, grpc, storage or environment.
"""

from fitting.backtest import (
    DEFAULT_TRAIN_FRACTIONS,
    BacktestCurve,
    BacktestResult,
    BacktestRow,
    backtest,
    check_train_fractions,
)
from fitting.batch import fit_batch
from fitting.comparison import ComparisonResult, compare_curves
from fitting.compression import CR_UNITS, auc, compression_ratio
from fitting.compute_optimal import ComputePlan, PlanRow, compute_optimal
from fitting.envelope import EnvelopeResult, loss_envelope
from fitting.errors import (
    AlreadyExistsError,
    FitImpossibleError,
    InvalidInputError,
    LimitExceededError,
    NotFoundError,
    ScalingLawError,
    UnknownLawError,
)
from fitting.expression import expression_law
from fitting.isoflop import IsoFlopProfile, IsoFlopResult, isoflop_profiles
from fitting.joint import fit_joint
from fitting.law_types import Law, Param
from fitting.laws import LAWS, get_law
from fitting.learning_law import (
    SimCrFit,
    SimStatistics,
    fit_sim_against_cr,
    sim_statistics,
    well_learned_ratios,
    well_learned_share,
)
from fitting.options import FitOptions, ParamSpec
from fitting.predict import PredictionResult, predict
from fitting.ratios_fitted import (
    CoefficientImprovement,
    acceleration_ratio,
    coefficient_improvement,
    speedup_at_loss,
    steps_to_loss,
)
from fitting.ratios_measured import (
    MeasuredCurve,
    MeasuredRatio,
    Reach,
    acceleration_ratio_empirical,
    acceleration_ratio_measured,
    measure_curve,
    measured_acceleration,
    measured_speedup,
)
from fitting.result import Estimate, FitResult, FitStatus
from fitting.single import fit_curve

__all__ = [
    "CR_UNITS",
    "DEFAULT_TRAIN_FRACTIONS",
    "LAWS",
    "AlreadyExistsError",
    "BacktestCurve",
    "BacktestResult",
    "BacktestRow",
    "CoefficientImprovement",
    "ComparisonResult",
    "ComputePlan",
    "EnvelopeResult",
    "Estimate",
    "FitImpossibleError",
    "FitOptions",
    "FitResult",
    "FitStatus",
    "InvalidInputError",
    "IsoFlopProfile",
    "IsoFlopResult",
    "Law",
    "LimitExceededError",
    "MeasuredCurve",
    "MeasuredRatio",
    "NotFoundError",
    "Param",
    "ParamSpec",
    "PlanRow",
    "PredictionResult",
    "Reach",
    "ScalingLawError",
    "SimCrFit",
    "SimStatistics",
    "UnknownLawError",
    "acceleration_ratio",
    "acceleration_ratio_empirical",
    "acceleration_ratio_measured",
    "auc",
    "backtest",
    "check_train_fractions",
    "coefficient_improvement",
    "compare_curves",
    "compression_ratio",
    "compute_optimal",
    "expression_law",
    "fit_batch",
    "fit_curve",
    "fit_joint",
    "fit_sim_against_cr",
    "get_law",
    "isoflop_profiles",
    "loss_envelope",
    "measure_curve",
    "measured_acceleration",
    "measured_speedup",
    "predict",
    "sim_statistics",
    "speedup_at_loss",
    "steps_to_loss",
    "well_learned_ratios",
    "well_learned_share",
]
