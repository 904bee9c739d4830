# Prints the field names of mkosi's `--json summary` image objects (its Config dataclass, keys as
# mkosi's dict_with_capitalised_keys_factory names them) and the settings whose JSON field has
# another name (several settings sharing one dest), as JSON. Run by record.js --fields with
# PYTHONPATH pointing at an mkosi checkout; it reads mkosi, it copies none of it.
import dataclasses
import json

from mkosi.config import SETTINGS, SETTINGS_LOOKUP_BY_DEST, Config, dict_with_capitalised_keys_factory

fields = sorted(dict_with_capitalised_keys_factory([(f.name, None) for f in dataclasses.fields(Config)]))
renames = {
    s.name: SETTINGS_LOOKUP_BY_DEST[s.dest].name
    for s in SETTINGS
    if s.dest in SETTINGS_LOOKUP_BY_DEST and SETTINGS_LOOKUP_BY_DEST[s.dest].name != s.name
}
print(json.dumps({"fields": fields, "renames": renames}))
