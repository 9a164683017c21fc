"""The built-in gradcheck suite: every registered activation as hidden layer (1 to 3 layers) under every
registered loss with every output activation it accepts, with and without weight decay, on small random
networks. A newly registered activation or loss is checked with no change here."""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .batches import random_targets
from .gradient_check import Tolerance, TensorResult, json_float, Verdict, check_network
from .nn.activations import ACTIVATIONS
from .nn.losses import LOSSES
from .nn.network import Network

#: the built-in suite's networks: inputs, hidden units, output units (tried in order), samples, decays
SUITE_INPUTS = 3
SUITE_HIDDEN_UNITS = 4
SUITE_OUTPUT_UNITS = (3, 1)
SUITE_SAMPLES = 5
SUITE_DEPTHS = (1, 2, 3)
SUITE_WEIGHT_DECAYS = (0.0, 0.1)


def canonical_names(registry) -> list[str]:
    """One name per registered object (aliases dropped): the name it registered itself under."""
    names: dict[str, None] = {}
    for key, obj in registry.items():
        names.setdefault(getattr(obj, "name", None) or key, None)
    return sorted(names)


def short_name(registry, name: str) -> str:
    """The shortest name (or alias) registered for the same object as `name`: bce for binary_crossentropy."""
    obj = registry.get(name)
    return min((k for k, o in registry.items() if o is obj), key=lambda k: (len(k), k))


@dataclass
class SuiteCase(Verdict):
    """One network of the suite: `depth` hidden layers of `hidden`, an output layer of `output`."""

    hidden: str
    depth: int
    output: str
    loss: str
    units: int
    weight_decay: float
    tensors: list[TensorResult] = field(default_factory=list)


    @property
    def max_rel_error(self) -> float:
        return max((t.max_rel_error for t in self.tensors if t.checked), default=0.0)

    def to_dict(self) -> dict[str, Any]:
        return {"hidden": self.hidden, "depth": self.depth, "output": self.output, "loss": self.loss,
                "units": self.units, "weight_decay": self.weight_decay, "passed": self.passed,
                "failing": self.failing, "max_rel_error": json_float(self.max_rel_error),
                "checked": sum(t.checked for t in self.tensors), "skipped": sum(t.skipped for t in self.tensors),
                "tensors": [t.to_dict() for t in self.tensors]}


@dataclass
class SuiteReport:
    """Every case of the built-in suite; `hidden` and `outputs` ((output activation, loss) pairs) are
    the rows and columns of its matrix."""

    cases: list[SuiteCase]
    hidden: list[str]
    outputs: list[tuple[str, str]]
    depths: tuple[int, ...]
    weight_decays: tuple[float, ...]
    tolerance: Tolerance
    seed: int

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.cases)

    @property
    def failing(self) -> list[SuiteCase]:
        return [c for c in self.cases if not c.passed]

    def cell(self, hidden: str, depth: int, output: str, loss: str) -> list[SuiteCase]:
        """The cases (one per weight decay) of one matrix cell."""
        return [c for c in self.cases
                if (c.hidden, c.depth, c.output, c.loss) == (hidden, depth, output, loss)]

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "cases_total": len(self.cases), "cases_failed": len(self.failing),
                "hidden": self.hidden, "outputs": [{"activation": a, "loss": l} for a, l in self.outputs],
                "depths": list(self.depths), "weight_decays": list(self.weight_decays),
                "tolerance": asdict(self.tolerance), "seed": self.seed,
                "max_rel_error": json_float(max((c.max_rel_error for c in self.cases), default=0.0)),
                "skipped": sum(t.skipped for c in self.cases for t in c.tensors),
                "cases": [c.to_dict() for c in self.cases]}


def suite_outputs() -> list[tuple[str, str, int]]:
    """(output activation, loss, units) for every registered loss and every registered activation the
    loss accepts as output layer (`Loss.check_output`), with the first accepted of SUITE_OUTPUT_UNITS."""
    pairs = []
    for loss_name in canonical_names(LOSSES):
        loss = LOSSES.get(loss_name)()
        for act in canonical_names(ACTIVATIONS):
            units = next((u for u in SUITE_OUTPUT_UNITS if loss.check_output(act, u) is None), None)
            if units is not None:
                pairs.append((act, loss_name, units))
    return pairs


def _case_rng(seed: int, *parts: object) -> np.random.Generator:
    """A Generator for one case, from the seed and the case's names: a case's data does not depend on
    which other activations or losses are registered."""
    return np.random.default_rng([seed, zlib.crc32("|".join(map(str, parts)).encode())])


def check_case(hidden: str, depth: int, output: str, loss_name: str, units: int, weight_decay: float, *,
               tolerance: Tolerance = Tolerance(), max_params: int = 0, seed: int = 0) -> SuiteCase:
    """Build one random suite network (weights N(0, 1/fan_in), biases N(0, 0.5^2), inputs N(0, 1), targets
    from `random_targets`) and check it."""
    rng = _case_rng(seed, hidden, depth, output, loss_name, units, weight_decay)
    sizes = [SUITE_INPUTS] + [SUITE_HIDDEN_UNITS] * depth + [units]
    weights = [(rng.normal(0, 1 / np.sqrt(a), (a, b)), rng.normal(0, 0.5, b)) for a, b in zip(sizes, sizes[1:])]
    net = Network.from_arrays(weights, [hidden] * depth + [output])
    X = rng.normal(size=(SUITE_SAMPLES, SUITE_INPUTS))
    T = random_targets(net.layers[-1].activation, SUITE_SAMPLES, units, rng)
    loss = LOSSES.get(loss_name)()
    tensors = check_network(net, X, T, loss, weight_decay, tolerance=tolerance, max_params=max_params, rng=rng)
    return SuiteCase(hidden, depth, output, loss_name, units, weight_decay, tensors)


def check_suite(*, tolerance: Tolerance = Tolerance(), max_params: int = 0, seed: int = 0) -> SuiteReport:
    """Every registered activation as hidden layer (1 to 3 layers) under every (output activation, loss)
    pair of `suite_outputs`, with and without weight decay."""
    tolerance.validate()
    hidden = canonical_names(ACTIVATIONS)
    outputs = suite_outputs()
    cases = [check_case(h, d, out, loss, units, wd, tolerance=tolerance, max_params=max_params, seed=seed)
             for h in hidden for d in SUITE_DEPTHS for out, loss, units in outputs for wd in SUITE_WEIGHT_DECAYS]
    return SuiteReport(cases, hidden, [(o, l) for o, l, _ in outputs], SUITE_DEPTHS, SUITE_WEIGHT_DECAYS,
                       tolerance, seed)
