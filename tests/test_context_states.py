"""The window's, ask's and serve's store of saved context states: in the cache folder, with the
setting's budget in gigabytes (0: off)."""

from __future__ import annotations

import math

from app import paths
from app.context_states import FOLDER, budget_bytes, gb_text, open_store
from app.core.saved_states import GB


def test_the_store_lives_in_the_cache_folder_with_the_settings_budget(app_home):
    store = open_store(2.5)
    assert store.root == paths.cache_dir() / FOLDER and str(store.root).startswith(str(app_home))
    assert store.budget_bytes == 2_500_000_000
    assert open_store(0).budget_bytes == 0


def test_budget_in_bytes():
    assert budget_bytes(10) == 10 * GB and budget_bytes(0.001) == 1_000_000
    assert budget_bytes(0) == budget_bytes(-1) == budget_bytes(math.nan) == budget_bytes(math.inf) == 0


def test_disk_use_for_people():
    assert gb_text(0) == "0 GB"
    assert gb_text(12_345) == "under 0.1 GB"
    assert gb_text(int(0.34 * GB)) == "0.3 GB"
    assert gb_text(int(9.94 * GB)) == "9.9 GB" and gb_text(int(9.96 * GB)) == "10 GB"
    assert gb_text(12 * GB) == "12 GB" and gb_text(1234 * GB) == "1,234 GB"
