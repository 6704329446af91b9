"""Embedded corpus of the MERLIN-multitask study (S3): simulated urban SAR scenes in slant-range geometry.

The paper uses a TerraSAR-X spotlight SLC over Paris with building footprints and heights from IGN BDtopo
projected into the SAR geometry; neither is openly downloadable. This simulator stands in for them (its
outputs are named ``sim-urban``, never "Paris").

Geometry. Rows are azimuth, columns are slant range projected on the ground (pixel ``pixel_m`` metres),
near range at column 0, incidence angle theta from the vertical. A surface point at ground range x and
height z appears at column x - z cot(theta) (layover toward near range); a point is lit when no surface
nearer to the sensor rises above the ray through it, i.e. when z + x cot(theta) is not exceeded by any
point of smaller x. So a building of height h lays its front facade over h cot(theta) of ground in front of
it and hides h tan(theta) of ground behind it (its shadow).

Reflectivity (mean intensity E|z|^2). Ground: a log-normal texture of mean 1 with roads (a darker grid of
streets); roofs: a fainter texture; front facades: bright, spread over the layover; a bright double-bounce
line at each lit facade foot; shadows hold only receiver noise (``noise_floor``). Each surface sample is
rendered on a grid ``oversample`` times finer than the pixel and summed per pixel.

Labels, in the same image geometry (the paper projects BDtopo footprints into the slant-range geometry):
the building footprint (ground level, z = 0, so at the footprint's own columns) and the building height map
(metres on the footprint, 0 elsewhere).

Areas. The scene is split along azimuth into training, validation and test areas separated by empty guard
bands; buildings are placed inside one area only, so no building (or its layover and shadow, which extend
along range) is shared between areas.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

from ..files import atomic_output
from ..physics.speckle import speckle_slc

AREAS = ("train", "val", "test")
DATASET_NAME = "sim-urban"


@dataclass(frozen=True)
class UrbanSceneConfig:
    rows: int = 768                    # azimuth lines of the whole scene
    cols: int = 256                    # range columns
    area_fractions: tuple[float, float, float] = (0.6, 0.1, 0.3)   # train / validation / test azimuth share
    guard: int = 8                     # empty rows between areas
    pixel_m: float = 1.0               # pixel spacing (azimuth and ground range), metres
    incidence_deg: float = 35.0
    block_m: float = 48.0              # street grid spacing
    road_m: float = 6.0                # street width
    buildings_per_block: int = 3
    footprint_m: tuple[float, float] = (8.0, 20.0)
    height_m: tuple[float, float] = (5.0, 25.0)
    texture_sigma: float = 0.35        # log-normal ground texture (std of log reflectivity)
    texture_scale_m: float = 3.0
    road_reflectivity: float = 0.25
    roof_reflectivity: float = 0.6
    wall_reflectivity: float = 2.0     # per metre of slant extent
    double_bounce: float = 12.0        # per metre of wall height, at the facade foot
    noise_floor: float = 0.01          # receiver noise (what a shadow shows)
    correlation: float = 0.0           # speckle spectral taper in [0, 0.5) (0 = white, 0.46 = Hamming)
    oversample: int = 4
    seed: int = 0

    def __post_init__(self):
        if self.rows < 16 or self.cols < 16:
            raise ValueError(f"scene of {self.rows}x{self.cols} pixels is too small")
        if not 0 < self.incidence_deg < 90:
            raise ValueError(f"incidence_deg must be in (0, 90), got {self.incidence_deg}")
        if len(self.area_fractions) != 3 or abs(sum(self.area_fractions) - 1) > 1e-6 or min(self.area_fractions) <= 0:
            raise ValueError(f"area_fractions must be three positive shares summing to 1, got {self.area_fractions}")

    @property
    def cot(self) -> float:
        return 1.0 / np.tan(np.radians(self.incidence_deg))

    @property
    def tan(self) -> float:
        return float(np.tan(np.radians(self.incidence_deg)))


@dataclass(frozen=True)
class Building:
    row0: int     # azimuth rows [row0, row1)
    row1: int
    x0: float     # ground range [x0, x1), pixels
    x1: float
    height_m: float


def area_bounds(cfg: UrbanSceneConfig) -> dict[str, tuple[int, int]]:
    """Row ranges [start, stop) of the training, validation and test areas (guard bands between them)."""
    usable = cfg.rows - 2 * cfg.guard
    sizes = [int(round(f * usable)) for f in cfg.area_fractions]
    sizes[-1] = usable - sizes[0] - sizes[1]
    bounds, start = {}, 0
    for area, size in zip(AREAS, sizes):
        bounds[area] = (start, start + size)
        start += size + cfg.guard
    return bounds


def place_buildings(cfg: UrbanSceneConfig, rng: np.random.Generator) -> list[Building]:
    """Rectangular buildings inside the street blocks of each area; footprints never overlap."""
    px = cfg.pixel_m
    block, road = cfg.block_m / px, cfg.road_m / px
    lo, hi = cfg.footprint_m[0] / px, cfg.footprint_m[1] / px
    margin = cfg.height_m[1] * cfg.cot / px + 2          # layover of the tallest building stays in the image
    shadow = cfg.height_m[1] * cfg.tan / px + 2
    buildings: list[Building] = []
    # street blocks: [k block + road, (k + 1) block) along both axes, the streets between them
    row_blocks = [(k * block + road, (k + 1) * block) for k in range(int(cfg.rows // block) + 1)]
    col_blocks = [(k * block + road, (k + 1) * block) for k in range(int(cfg.cols // block) + 1)]
    col_blocks = [(max(a, margin), min(b, cfg.cols - shadow)) for a, b in col_blocks]
    for start, stop in area_bounds(cfg).values():
        for ra, rb in row_blocks:
            r, r_end = max(ra, start), min(rb, stop)
            for c, c_end in col_blocks:
                taken: list[tuple[float, float, float, float]] = []
                for _ in range(cfg.buildings_per_block * 4):
                    if len(taken) == cfg.buildings_per_block:
                        break
                    h_rows, w_cols = rng.uniform(lo, hi, size=2)
                    if r_end - r < h_rows + 1 or c_end - c < w_cols + 1:
                        continue
                    r0 = rng.uniform(r, r_end - h_rows)
                    c0 = rng.uniform(c, c_end - w_cols)
                    box = (r0, r0 + h_rows, c0, c0 + w_cols)
                    if any(box[0] < t[1] + 2 and t[0] < box[1] + 2 and box[2] < t[3] + 2 and t[2] < box[3] + 2
                           for t in taken):
                        continue
                    taken.append(box)
                    row0, row1 = int(np.ceil(box[0])), int(np.floor(box[1]))
                    buildings.append(Building(row0, row1, box[2], box[3], float(rng.uniform(*cfg.height_m))))
    return buildings


def _texture(shape: tuple[int, int], cfg: UrbanSceneConfig, rng: np.random.Generator, sigma: float) -> np.ndarray:
    field = gaussian_filter(rng.standard_normal(shape), cfg.texture_scale_m / cfg.pixel_m * cfg.oversample, mode="wrap")
    field /= field.std() + 1e-12
    return np.exp(sigma * field - sigma ** 2 / 2)


def render(cfg: UrbanSceneConfig, buildings: list[Building], rng: np.random.Generator | None = None,
           textured: bool = True) -> dict[str, np.ndarray]:
    """Reflectivity, footprint mask and height map (each rows x cols) of a scene with these buildings."""
    rng = rng if rng is not None else np.random.default_rng(cfg.seed)
    q, px = cfg.oversample, cfg.pixel_m
    n_fine = cfg.cols * q
    x = (np.arange(n_fine) + 0.5) / q                     # ground range of the fine samples, pixels
    ground_tex = _texture((cfg.rows, n_fine), cfg, rng, cfg.texture_sigma) if textured else np.ones((cfg.rows, n_fine))
    roof_tex = _texture((cfg.rows, n_fine), cfg, rng, 0.5 * cfg.texture_sigma) if textured else np.ones((cfg.rows, n_fine))
    block, road = cfg.block_m / px, cfg.road_m / px
    on_road_col = (x % block) < road
    heights_fine = np.zeros((cfg.rows, n_fine))
    for b in buildings:
        inside = (x >= b.x0) & (x < b.x1)
        heights_fine[b.row0:b.row1, inside] = np.maximum(heights_fine[b.row0:b.row1, inside], b.height_m)

    reflectivity = np.zeros((cfg.rows, n_fine))
    cot = cfg.cot
    for row in range(cfg.rows):
        h = heights_fine[row] / px                        # height in pixel units
        on_road = on_road_col | ((row % block) < road)
        surface = np.where(h > 0, cfg.roof_reflectivity * roof_tex[row],
                           np.where(on_road, cfg.road_reflectivity, 1.0) * ground_tex[row])
        # lit when h + x cot is not exceeded by any nearer point (ray toward near range rises with slope cot)
        reach = h + x * cot
        nearer = np.concatenate([[-np.inf], np.maximum.accumulate(reach)[:-1]])
        lit = reach >= nearer - 1e-9
        column = x - h * cot
        _deposit(reflectivity[row], column, surface * lit / q, q)
        # front facades: where the height steps up with increasing range
        steps = np.flatnonzero(np.diff(h) > 0) + 1
        for i in steps:
            base, top = h[i - 1], h[i]
            z = np.arange(base, top, 1.0 / (q * cot)) + 0.5 / (q * cot)   # one sample per fine column
            wall_lit = z + x[i] * cot >= nearer[i] - 1e-9
            _deposit(reflectivity[row], x[i] - z * cot, cfg.wall_reflectivity * wall_lit / q, q)
            if base == 0 and lit[i - 1]:
                # double bounce (ground-wall dihedral) at the facade foot, proportional to the wall height
                _deposit(reflectivity[row], np.array([x[i]]), np.array([cfg.double_bounce * top * px]), q)
    reflectivity = reflectivity.reshape(cfg.rows, cfg.cols, q).sum(axis=2) + cfg.noise_floor
    height = heights_fine.reshape(cfg.rows, cfg.cols, q).mean(axis=2)
    mask = (heights_fine > 0).reshape(cfg.rows, cfg.cols, q).mean(axis=2) >= 0.5
    height = np.where(mask, heights_fine.reshape(cfg.rows, cfg.cols, q).max(axis=2), 0.0)
    return {"reflectivity": reflectivity.astype(np.float32), "mask": mask.astype(np.uint8),
            "height": height.astype(np.float32)}


def _deposit(fine_row: np.ndarray, columns: np.ndarray, values: np.ndarray, q: int) -> None:
    idx = np.floor(columns * q).astype(int)
    keep = (idx >= 0) & (idx < fine_row.size)
    np.add.at(fine_row, idx[keep], values[keep])


def simulate(cfg: UrbanSceneConfig) -> dict[str, np.ndarray]:
    """The whole scene: reflectivity, SLC (one-look speckle, optionally correlated), mask, height, areas."""
    rng = np.random.default_rng([cfg.seed, 3])
    buildings = place_buildings(cfg, rng)
    scene = render(cfg, buildings, rng)
    scene["slc"] = speckle_slc(scene["reflectivity"], rng, cfg.correlation)
    bounds = area_bounds(cfg)
    scene["areas"] = np.array([bounds[a] for a in AREAS], dtype=np.int64)
    scene["buildings"] = np.array([[b.row0, b.row1, b.x0, b.x1, b.height_m] for b in buildings], dtype=np.float64)
    return scene


def save_scene(scene: dict[str, np.ndarray], cfg: UrbanSceneConfig, output: Path) -> None:
    config = asdict(cfg)
    with atomic_output(Path(output), suffix=".npz") as tmp:
        np.savez_compressed(tmp, config=np.array(json.dumps(config)), dataset=np.array(DATASET_NAME), **scene)


def load_scene(path: Path) -> dict:
    """A scene written by :func:`save_scene` (or a real-data scene in the same layout); errors name the file."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            scene = {k: data[k] for k in data.files}
    except Exception as err:
        raise ValueError(f"{path}: not a readable scene file ({err})") from err
    for key in ("slc", "mask", "height", "areas"):
        if key not in scene:
            raise ValueError(f"{path}: lacks {key!r}")
    check_slc(scene["slc"], str(path))
    for key in ("mask", "height"):
        if scene[key].shape != scene["slc"].shape:
            raise ValueError(f"{path}: label {key!r} has shape {scene[key].shape} but the SLC has {scene['slc'].shape}")
    return scene


def check_slc(slc: np.ndarray, name: str) -> None:
    """An SLC must be a finite complex 2-D array (errors name the file)."""
    if not np.iscomplexobj(slc):
        raise ValueError(f"{name}: the SLC is {slc.dtype}, not complex (give the single-look complex image, "
                         f"not its amplitude or intensity)")
    if slc.ndim != 2:
        raise ValueError(f"{name}: the SLC must be 2-D (rows x columns), got shape {slc.shape}")
    if not np.all(np.isfinite(slc)):
        raise ValueError(f"{name}: the SLC holds NaN or Inf values ({int(np.sum(~np.isfinite(slc)))} pixels)")


def area_patches(scene: dict, area: str, size: int, stride: int) -> dict[str, np.ndarray]:
    """Patches (size x size) cut with ``stride`` inside one area, with their labels and top-left corners."""
    r0, r1 = (int(v) for v in scene["areas"][AREAS.index(area)])
    cols = scene["slc"].shape[1]
    if r1 - r0 < size or cols < size:
        raise ValueError(f"area {area!r} ({r1 - r0}x{cols} pixels) is smaller than the {size}-pixel patch")
    corners = [(r, c) for r in range(r0, r1 - size + 1, stride) for c in range(0, cols - size + 1, stride)]
    def cut(key):
        return np.stack([scene[key][r:r + size, c:c + size] for r, c in corners])
    out = {"slc": cut("slc"), "mask": cut("mask"), "height": cut("height"), "corners": np.array(corners)}
    if "reflectivity" in scene:
        out["reflectivity"] = cut("reflectivity")
    return out
