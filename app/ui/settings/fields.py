"""The sampling and context values as Settings and Thread settings show them: one label,
range, step, special value ("off", "random") and line of help each, so a value reads
the same in both dialogs. The defaults named are the Phi-4-reasoning model card's."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import QDoubleSpinBox, QLabel, QSpinBox, QVBoxLayout, QWidget

from app.core.types import GenParams

_CARD = GenParams()  # its defaults are the model card's (app/core/types.py)


@dataclass(frozen=True)
class Field:
    label: str
    low: float
    high: float
    step: float | None  # None: a whole number
    help: str
    special: str | None = None  # what the lowest value means, shown instead of it


FIELDS = {
    "temperature": Field(
        "Temperature", 0.0, 2.0, 0.05,
        "How freely words are chosen: lower is steadier and more repeatable, higher more varied. "
        f"The model card uses {_CARD.temperature:g}."),
    "top_p": Field(
        "Top-p", 0.0, 1.0, 0.01,
        "Choose only among the likeliest next words that together make up this share of the chances. "
        f"The model card uses {_CARD.top_p:g}."),
    "top_k": Field(
        "Top-k", 0, 1000, None,
        f"Choose only among this many likeliest next words; off leaves them all. The model card uses {_CARD.top_k}.",
        special="off"),
    "max_tokens": Field(
        "Max new tokens", 16, 131072, None,
        "The longest a reply may get, thinking included. Hard questions can think for "
        f"thousands of tokens; the model card allows {_CARD.max_tokens:,}."),
    "seed": Field(
        "Seed", -1, 2**31 - 1, None,
        "Random gives a different reply each time. A number gives the same reply again for the "
        "same question and settings, on the same computer.",
        special="random"),
    "think_budget": Field(
        "Thinking budget", 0, 1 << 20, None,
        "The most tokens a reply may think before it is told to answer with what it has. Quick is "
        "1,000, Normal 4,000, Long 16,000; Phi-4-reasoning can think for up to 32,768.",
        special="no limit"),
}
CONTEXT = Field(
    "Context size", 0, 131072, None,
    "How many tokens the model keeps in view: the system prompt, the conversation, attachments "
    "and the reply. More needs more memory. The model's own size is used up to 16,384; "
    "Phi-4-reasoning was trained for 32,768.",
    special="model's own (at most 16,384)")


# The context cache's precision, as the load plan reads it (app/core/fit.py, kv_cache_type).
KV_CACHE = Field(
    "Context cache", 0, 0, None,
    "Automatic uses f16, or q8_0 when that is what lets every layer fit on the GPU.")
KV_CACHE_CHOICES = [("Automatic", "auto"), ("f16 (full precision)", "f16"), ("q8_0 (half the memory)", "q8_0")]
SAVED_STATES = Field(
    "Saved conversations", 0, 10_000, 1.0,
    "Disk kept so a thread you come back to reads only what is new, not the whole conversation "
    "again. The least recently used go first. Clearing never deletes threads.",
    special="off")


def spin_box(field: Field, value) -> QSpinBox | QDoubleSpinBox:
    """A box for `field` showing `value` (None shows the special value, e.g. "random")."""
    box: QSpinBox | QDoubleSpinBox
    if field.step is None:
        box = QSpinBox()
        box.setRange(int(field.low), int(field.high))
        if field.high >= 4096:
            box.setGroupSeparatorShown(True)
    else:
        box = QDoubleSpinBox()
        box.setDecimals(2)
        box.setSingleStep(field.step)
        box.setRange(field.low, field.high)
    if field.special:
        box.setSpecialValueText(field.special)  # shown at the minimum
    box.setValue(field.low if value is None else value)
    return box


def box_value(field: Field, box: QSpinBox | QDoubleSpinBox):
    """The box's value, None for "random" (a seed's) or "no limit" (a thinking budget's)."""
    value = box.value()
    return None if field.special in ("random", "no limit") and value == field.low else value


def help_label(field: Field) -> QLabel:
    label = QLabel(field.help)
    label.setObjectName("helpText")
    label.setWordWrap(True)
    return label


def with_help(box: QWidget, field: Field) -> QWidget:
    """`box` with its line of help under it, for a form's field column."""
    holder = QWidget()
    column = QVBoxLayout(holder)
    column.setContentsMargins(0, 0, 0, 0)
    column.setSpacing(2)
    column.addWidget(box)
    column.addWidget(help_label(field))
    box.setToolTip(field.help)
    return holder
