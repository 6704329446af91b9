# S3's workflow globals and input functions (its rules: workflow/rules/merlin_multitask.smk). Snakemake's
# lint wants functions apart from rules; the Snakefile includes this before any study's rules.

from restorebench.methods.configs import NETWORK_DESPECKLERS

S3 = config["scales"][SCALE]["s3"]
S3CFG = config["s3"]
S3_MODELS = registered("S3", "model", "s3.models", S3CFG["models"])
S3_TABLE2 = registered("S3", "model", "s3.table2", S3CFG["table2"])
S3_SEEDS = replicates("s3")   # replicates: each its own scene, labelled subsets and training seed
S3_REAL = config["data_source"] == "real"


def s3_scene(seed):
    """A replicate's scene: its own simulated one, or the one real scene every replicate shares."""
    return "results/s3/data/scene.npz" if S3_REAL else f"results/s3/data/seed{seed}/scene.npz"


S3_PCTS = [f"{p:g}" for p in S3["labelled_pct"]]
S3_LOW = S3_PCTS[-1] if S3_PCTS else "1"
S3_RUN_FACTS = (
    f"Run facts: scale `{SCALE}`, simulated urban scene (sim-urban) of {S3['rows']}×{S3['cols']} pixels, "
    f"incidence {S3CFG['incidence_deg']}°, training patches {S3['patch']} px (stride {S3['stride']}), backbone "
    f"{S3['encoder_width']}/{S3['decoder_width']} channels × {S3['levels']} levels, {epochs_words(S3CFG['training'], S3['epochs'])}, "
    f"batch {S3['batch_size']}, labelled {', '.join(S3_PCTS)} %, {len(S3_SEEDS)} replicate(s) (seeds {', '.join(map(str, S3_SEEDS))}: each "
    + ("its own labelled subsets and training seed on the one real scene" if S3_REAL else
       "its own simulated scene, labelled subsets and training seed")
    + f"), {DEVICE_FACTS}."
)


S3_RUNS = sorted(
    {(m, p, s) for m in S3_MODELS for p in S3_PCTS for s in S3_SEEDS}
    | {(m, S3_LOW, s) for m in S3_TABLE2 for s in S3_SEEDS}
)
S3_SCORES = [f"results/s3/scores/{m}/{p}pct/seed{s}.tsv" for m, p, s in S3_RUNS] + [
    f"results/s3/scores/threshold/{p}pct/seed{s}.tsv" for p in S3_PCTS for s in S3_SEEDS if float(p) > 0]
# real data has no true reflectivity: the despeckling table needs the simulation
S3_DESPECKLERS = [] if S3_REAL else list(S3CFG["despecklers"])
S3_RUNS_NETWORK = lambda wc: wc.method in NETWORK_DESPECKLERS
S3_DESPECKLE_CHECKPOINT = {
    "merlin": f"results/s3/models/merlin/0pct/seed{S3_SEEDS[0]}.pt",
    "multitask": f"results/s3/models/multitask/{S3_PCTS[0]}pct/seed{S3_SEEDS[0]}.pt",
}
S3_FIGURES = ["results/s3/figures/figure3.png", "results/s3/figures/figure2.png"]
S3_TABLES = ["results/s3/tables/table2.md", "results/s3/tables/figure3.md", "results/s3/tables/despeckling.md"]
S3_TRAIN_BENCHMARKS = [f"results/benchmarks/s3_train/{m}/{p}pct/seed{s}.tsv" for m, p, s in S3_RUNS]


def s3_model_options(wc):
    """`s3.params.<model>`: the parameters of a model declaring its own network, over its declaration's."""
    return param_options(S3CFG["params"].get(wc.model, {}))


def s3_size_options():
    from restorebench.methods.configs import SIZE_FIELDS

    network = " ".join(f"--{name.replace('_', '-')} " + " ".join(map(str, S3[name] if isinstance(S3[name], list) else [S3[name]]))
                       for name in SIZE_FIELDS)
    return f"--patch {S3['patch']} --stride {S3['stride']} --tile {S3['tile']} {network}"


def s3_figure2_examples():
    runs = [(m, p) for m in ("unet", "im2height", "multitask") if m in S3_MODELS for p in (S3_PCTS[0], S3_LOW)]
    return {f"{m}@{p}": f"results/s3/scores/{m}/{p}pct/seed{S3_SEEDS[0]}.examples.npz" for m, p in dict.fromkeys(runs)}
