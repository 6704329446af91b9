# Which methods exist comes from restorebench.registry (plus the config's plugin modules); the config's
# method lists are checked against it here, and rule wildcards are built from it.
import os
import re

from restorebench import registry

os.environ[registry.PLUGIN_ENV] = ",".join(config["plugins"])  # the jobs' CLI imports the same plugins
registry.load_plugins(config["plugins"])


def registered(study, slot, key, names):
    """The config list `key`, each name checked against the registry (an error names the key)."""
    known = registry.names(study, slot)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(
            f"config key {key}: {', '.join(map(repr, unknown))} not registered; registered {study} "
            f"{slot}s: {', '.join(known)} (add one with restorebench.registry.register in a module "
            f"listed under `plugins`)"
        )
    return list(names)


S2_PRIORS = registered("S2", "prior", "s2.priors", config["s2"]["priors"])
S2_TABLE2_PRIORS = registered("S2", "prior", "s2.table2_priors", config["s2"]["table2_priors"])
def with_floors(study, slot, names):
    """The names, then every floor the registry declares for the slot that the list leaves out: floors run
    at every scale, whatever the config lists (SPEC "Findings, not artefacts")."""
    return list(names) + [m.name for m in registry.methods(study, slot) if m.floor and m.name not in names]


S1_METHODS = with_floors("S1", "rfi", registered("S1", "rfi", "s1.methods", config["s1"]["methods"]))
S1_TRAINED = [m for m in S1_METHODS if registry.get("S1", "rfi", m).trained]


def wildcard_choice(names):
    return "|".join(re.escape(n) for n in names) or "(?!)"
