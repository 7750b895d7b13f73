"""Special tokens. Their ids are fixed here, once, for the tokenizer, the dataset and the model.

The tokenizer trainer lists them first, in this order, so `[PAD]` is always id 0; the dataset pads
with 0 and the model treats id 0 as padding. Tests check the saved tokenizer agrees.
"""

PAD, CLS, SEP, MASK, UNK = "[PAD]", "[CLS]", "[SEP]", "[MASK]", "[UNK]"
SPECIAL_TOKENS: tuple[str, ...] = (PAD, CLS, SEP, MASK, UNK)

PAD_ID, CLS_ID, SEP_ID, MASK_ID, UNK_ID = range(len(SPECIAL_TOKENS))
