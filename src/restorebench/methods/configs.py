"""The configuration dataclasses of the suite's trained networks, without torch.

They live apart from the training code so that the CLI can read their defaults while building its parser
(``restorebench --help`` must not import torch) and so that a weights file's stored config can be read back
without building anything. methods.merlin and methods.declipping re-export them.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..physics.speckle import LogConstants

TASKS = ("S", "R", "D")          # MERLIN-multitask heads: segmentation, regression, despeckling
IM2HEIGHT_MULTIPLE = 16          # IM2HEIGHT's four poolings: input sides must be multiples of this

ARCHITECTURES = ("merlin", "im2height")    # built here; a registered S3 model with ``build`` is its own
AUGMENTS = ("dihedral", "azimuth-flip", "none")
# The size fields of S3NetConfig and what they set: the CLI's options and the config's keys of the same names.
SIZE_FIELDS = {
    "encoder_width": "backbone encoder channels",
    "decoder_width": "backbone decoder channels",
    "levels": "backbone pooling levels",
    "head_widths": "channels of the D and S heads' two hidden layers",
    "regression_width": "channels of the regression head's residual blocks",
    "im2height_width": "IM2HEIGHT base width (62: 11.4 M parameters, the paper's ~11.2 M)",
}


def declared_s3_architecture(name: str):
    """The registered S3 model that builds its own network (``build(params)``, a plugin's), or None."""
    from .. import registry

    for m in registry.methods("S3", "model"):
        if m.name == name and m.build is not None:
            return m
    return None


@dataclass(frozen=True)
class S3NetConfig:
    architecture: str = "merlin"                # merlin (backbone + heads) | im2height | a declared one
    tasks: str = "SRD"                          # heads of the merlin architecture (or of a declared one)
    encoder_width: int = 48
    decoder_width: int = 96
    levels: int = 5
    head_widths: tuple[int, int] = (64, 32)
    regression_width: int = 128
    regression_blocks: int = 3
    im2height_width: int = 62
    lambdas: dict = field(default_factory=lambda: {"S": 0.9, "R": 0.1, "D": 0.9})
    augment: str = "azimuth-flip"
    batch_factor: bool = False                  # the authors' extra 1/batch in L_D
    M: float = 0.0                              # normalisation constants (set from the training data)
    m: float = 0.0
    pos_weight: float = 1.0
    params: dict = field(default_factory=dict)  # a declared architecture's parameters (its build(params))

    def __post_init__(self):
        if self.architecture not in ARCHITECTURES and self.declared is None:
            raise ValueError(f"unknown S3 architecture {self.architecture!r}; choose one of {', '.join(ARCHITECTURES)} "
                             "or a registered S3 model that declares build (docs/adding-a-method.md)")
        if self.augment not in AUGMENTS:
            raise ValueError(f"unknown augmentation {self.augment!r}; choose one of {', '.join(AUGMENTS)}")
        tasks = "".join(t for t in TASKS if t in self.tasks.upper())
        if self.architecture == "im2height":
            tasks = "R"
        if not tasks:
            raise ValueError(f"tasks {self.tasks!r} name none of S, R, D")
        object.__setattr__(self, "tasks", tasks)
        object.__setattr__(self, "head_widths", tuple(self.head_widths))

    @property
    def declared(self):
        """The registry declaration building this architecture, when it is not one of ARCHITECTURES."""
        return None if self.architecture in ARCHITECTURES else declared_s3_architecture(self.architecture)

    @property
    def constants(self) -> LogConstants:
        return LogConstants(self.M, self.m)

    @property
    def multiple(self) -> int:
        if self.declared is not None:
            return int(self.declared.input_multiple(self.params)) if self.declared.input_multiple else 1
        return IM2HEIGHT_MULTIPLE if self.architecture == "im2height" else 2 ** self.levels

    def to_dict(self) -> dict:
        d = asdict(self)
        d["head_widths"] = list(d["head_widths"])
        if not d["params"]:            # a built-in architecture: its weights file's config as before
            del d["params"]
        return d


def objectives() -> tuple[str, ...]:
    """The S4 training objectives: the registered trained S4 declippers (restorebench.registry, slot
    ``S4``/``declipper``; a plugin's too), by their ``params["objective"]``."""
    from .. import registry

    return tuple(m.params["objective"] for m in registry.methods("S4", "declipper") if m.trained)


def objective_method(objective: str):
    """The registered declaration of an S4 training objective."""
    from .. import registry

    for m in registry.methods("S4", "declipper"):
        if m.trained and m.params["objective"] == objective:
            return m
    raise ValueError(f"unknown S4 objective {objective!r}; choose one of {', '.join(objectives())}")


@dataclass(frozen=True)
class DeclipConfig:
    objective: str = "mc-eq"
    widths: tuple[int, ...] = (32, 64, 128, 256)
    kernel: int = 9
    bias: bool = False               # True: the same network with biases (paper Fig. 3)
    residual: bool = True            # x_hat = y + network correction (False: the network's output itself)
    eq_weight: float = 1.0           # lambda of L_MC + lambda L_EQ
    alpha_max: float = 2.0           # scalings alpha ~ U(1, alpha_max) of the equivariance loss
    stop_gradient: bool = True       # stop the gradient through x1 = f(y) in L_EQ (see methods/declipping.py)
    sample_rate: int = 16000         # of the training audio (the declip tool refuses other rates)

    def __post_init__(self):
        objective_method(self.objective)          # an unknown objective is an error listing the known ones
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))

    @property
    def self_supervised(self) -> bool:
        """Trains on clipped measurements alone (every objective but those declaring ``target="clean"``)."""
        return objective_method(self.objective).target != "clean"

    @property
    def multiple(self) -> int:
        return 2 ** len(self.widths)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["widths"] = list(self.widths)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "DeclipConfig":
        return cls(**d)


# the S3 experiment's names and presets, here so that building the CLI parser (their choices and defaults)
# does not import the experiment module and its scipy.ndimage / pandas
@dataclass(frozen=True)
class S3Sizes:
    """Patch geometry of one scale preset (config ``scales.<scale>.s3``) and the network sizes it sets
    (``network``: S3NetConfig's SIZE_FIELDS; absent ones keep the authors' defaults)."""
    patch: int = 512
    stride: int = 128
    tile: int = 256
    network: dict = field(default_factory=dict)


RELEASED = {"released-stripmap": ("merlin/saved_model/stripmap.pth", "TERRASAR_X"),
            "released-spotlight": ("merlin/saved_model/spotlight.pth", "TERRASAR_X"),
            "released-sentinel_tops": ("merlin/saved_models/sentinel_tops.pth", "SENTINEL1_TOPS")}
DESPECKLERS = ("noisy", "nlmeans", "merlin", "multitask", *RELEASED)
#: the despecklers that run a network (a workflow job reserves a GPU for them where networks get one)
NETWORK_DESPECKLERS = ("merlin", "multitask", *RELEASED)
DESPECKLER_LABELS = {"noisy": "noisy input (one look)", "nlmeans": "NL-means, log domain (scikit-image)",
                     "merlin": "MERLIN (ours, trained here)", "multitask": "MERLIN-multitask D head (ours)",
                     "released-stripmap": "authors' MERLIN, TerraSAR-X stripmap",
                     "released-spotlight": "authors' MERLIN, TerraSAR-X spotlight",
                     "released-sentinel_tops": "authors' MERLIN, Sentinel-1 TOPS"}
