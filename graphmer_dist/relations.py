"""The relation vocabulary of the GraphMER-SE code ontology (docs/design.md §2).

Relation ids are fixed by this tuple's order: id 0 means "no relation" (a root without leaves), and
relation `RELATIONS[i]` has id `i + 1`. The model's relation embedding table, the dataset's
`leaf_relation` arrays and `relations.json` all use these ids, so never reorder — only append.
"""

RELATIONS: tuple[str, ...] = (
    "defines",
    "defined_in",
    "declares",
    "contains",
    "implements",
    "inherits_from",
    "overrides",
    "calls",
    "invokes",
    "instantiates",
    "imports",
    "depends_on",
    "uses",
    "reads_from",
    "writes_to",
    "returns",
    "raises",
    "catches",
    "tested_by",
    "tests",
    "annotated_with",
    "produces",
)

NO_RELATION = 0
NUM_RELATION_IDS = len(RELATIONS) + 1  # including the "none" id 0

RELATION_ID: dict[str, int] = {name: i + 1 for i, name in enumerate(RELATIONS)}
