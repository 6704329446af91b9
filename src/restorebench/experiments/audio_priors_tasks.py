"""The S2 study's tasks and the (task, data role) pairs it fits, without heavy imports: the workflow reads
them when it parses the Snakefile, and ``restorebench bench gpu`` counts the paper run's fits from them."""

TASKS = ("gaussian", "environmental", "inpainting", "separation")
#: the (task, data role) pairs the study fits, the paper's Tables 1-4: one workflow job per pair and prior
#: (environmental noise with the Table 2 priors only, config ``s2.table2_priors``)
TASK_ROLES = (("gaussian", "speech"), ("gaussian", "digits"), ("gaussian", "piano"),
              ("environmental", "speech"), ("environmental", "digits"), ("environmental", "piano"),
              ("inpainting", "speech"), ("inpainting", "digits"),
              ("separation", "piano"))
#: roles fitted at the preset's ``speech_frames`` (the others at ``frames``)
LONG_ROLES = ("speech",)
#: networks fitted jointly per separation fit (one per source)
SEPARATION_SOURCES = 3
