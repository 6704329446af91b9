# S2's workflow globals and input functions (its rules: workflow/rules/audio_priors.smk). Snakemake's
# lint wants functions apart from rules; the Snakefile includes this before any study's rules.

from restorebench.experiments.audio_priors_tasks import LONG_ROLES, TASK_ROLES

S2 = config["scales"][SCALE]["s2"]
S2CFG = config["s2"]
S2_BINS = S2["n_fft"] // 2 + 1
S2_RUN_FACTS = (
    f"Run facts: scale `{SCALE}`, data source `{config['data_source']}`, {DEVICE_FACTS}, "
    f"seed {config['seed']}, {S2['clips']} clips per dataset, {S2['iterations']} iterations per fit (Adam, rate "
    f"{S2CFG['learning_rate']:g}"
    + (f", ×0.1 every {round(S2CFG['lr_decay_share'] * S2['iterations'])} iterations as the public code"
       if round(S2CFG['lr_decay_share'] * S2['iterations']) else ", constant") + "), "
    f"spectrogram {S2_BINS}×{S2['frames']} (speech {S2['speech_frames']} frames), "
    f"U-Net widths {S2['widths']}, the paper's dilations divided by {S2.get('dilation_divisor', 1)}."
)

# (task, data role) pairs of the S2 study and the priors each is fitted with
S2_TASK_ROLES = list(TASK_ROLES)


def s2_priors(task):
    return S2_TABLE2_PRIORS if task == "environmental" else S2_PRIORS


def s2_frames(role):
    return S2["speech_frames"] if role in LONG_ROLES else S2["frames"]


def s2_clip_samples(role):
    return (s2_frames(role) - 1) * S2["hop"]


def dataset_name(role):
    if config["data_source"] == "real":
        return config["real_data"][role]["name"]
    return {"speech": "tts-speech", "digits": "tts-digits", "piano": "sf-piano", "drums": "sf-drums",
            "living": "living", "traffic": "traffic"}[role]

ROLES = ["speech", "digits", "piano", "drums", "living", "traffic"]


def embedded_seed(wc):
    return config["seed"] * 100 + ROLES.index(wc.role)




def s2_observation_inputs(wc):
    inputs = {"clean": f"results/s2/corpus/{wc.role}.npz"}
    if wc.task == "environmental":
        inputs["noise"] = ["results/s2/corpus/living.npz", "results/s2/corpus/traffic.npz"]
    if wc.task == "separation":
        inputs["second"] = "results/s2/corpus/drums.npz"
    return inputs


def s2_task_options(wc, input):
    if wc.task == "gaussian":
        return f"--sigma {S2CFG['sigma']}"
    if wc.task == "environmental":
        lo, hi = S2CFG["env_snr_db"]
        noise = " ".join(f"--noise {p}" for p in input.noise)
        return f"{noise} --snr-min {lo} --snr-max {hi}"
    if wc.task == "inpainting":
        lo, hi = S2CFG["gap_seconds"]
        return f"--gap-min {lo} --gap-max {hi} --n-gaps {S2['n_gaps']}"
    return f"--second {input.second} --peak {S2CFG['peak']}"


def s2_example_role(task):
    return "piano" if task == "separation" else "speech"


def s2_example_inputs(wc):
    role = s2_example_role(wc.task)
    inputs = {"observations": f"results/s2/observations/{wc.task}/{role}.npz"}
    inputs.update({p: f"results/s2/fits/{wc.task}/{role}/{p}.npz" for p in s2_priors(wc.task)})
    return inputs


def s2_example_fit_options(wc, input):
    return " ".join(f"--fit {p}={input[p]}" for p in s2_priors(wc.task))


def s2_fit_files(wc):
    return [f"results/s2/fits/{wc.task}/{wc.role}/{p}.npz" for p in s2_priors(wc.task)]


S2_METRIC_FILES = [f"results/s2/scores/{t}/{r}.tsv" for t, r in S2_TASK_ROLES]
S2_TRAJECTORY_FILES = [f"results/s2/scores/{t}/{r}.trajectory.tsv" for t, r in S2_TASK_ROLES]
S2_FIGURES = ["results/s2/figures/figure2_convergence.png"] + [
    f"results/s2/figures/example_{t}.png" for t in ("gaussian", "environmental", "inpainting", "separation")
]

S2_FIT_BENCHMARKS = [
    f"results/benchmarks/s2_fit/{t}/{r}/{p}.tsv" for t, r in S2_TASK_ROLES for p in s2_priors(t)
]
