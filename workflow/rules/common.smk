# Shared settings derived from the validated config: the scale preset, paths, run facts.
import shlex

SCALE = config["scale"]
S2 = config["scales"][SCALE]["s2"]
S2CFG = config["s2"]
RESULTS = "results/s2"
RUN_FACTS = (
    f"Run facts: scale `{SCALE}`, data source `{config['data_source']}`, device `{config['device']}`, "
    f"seed {config['seed']}, {S2['clips']} clips per dataset, {S2['iterations']} iterations per fit, "
    f"spectrogram {S2['n_fft'] // 2 + 1}×{S2['frames']} (speech {S2['speech_frames']} frames), "
    f"U-Net widths {S2['widths']}."
)

# (task, data role) pairs of the S2 study and the priors each is fitted with
S2_TASK_ROLES = [
    ("gaussian", "speech"), ("gaussian", "digits"), ("gaussian", "piano"),
    ("environmental", "speech"), ("environmental", "digits"), ("environmental", "piano"),
    ("inpainting", "speech"), ("inpainting", "digits"),
    ("separation", "piano"),
]


def s2_priors(task):
    return S2CFG["table2_priors"] if task == "environmental" else S2CFG["priors"]


def s2_frames(role):
    return S2["speech_frames"] if role == "speech" else S2["frames"]


def s2_clip_samples(role):
    return (s2_frames(role) - 1) * S2["hop"]


def dataset_name(role):
    if config["data_source"] == "real":
        return config["real_data"][role]["name"]
    return {"speech": "tts-speech", "digits": "tts-digits", "piano": "sf-piano", "drums": "sf-drums",
            "living": "living", "traffic": "traffic"}[role]


def quoted(text):
    return shlex.quote(text)
