"""The catalog, what the listing says is on disk, discovery of other tools' GGUFs, and import."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from app.core import download as dl
from app.core.catalog import Catalog, UnknownModel, load_catalog, quant_from_name
from app.core.errors import CorruptModel, ModelMissing, NotAGGUF, UnsupportedArchitecture
from app.core.hub import RetryPolicy
from app.core.local_models import ImportedModels, catalog_states, check_model_file, discover
from app.core.verify import VerifiedStore
from tests import model_files
from tests.hub_server import LocalHub

MINI = "phi-4-mini-reasoning:Q4_K_M"


@pytest.fixture
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture
def store(tmp_path) -> VerifiedStore:
    return VerifiedStore(tmp_path / "verified.json")


def test_default_is_phi4_reasoning_q4_k_m_from_unsloth(catalog):
    f = catalog.default_file()
    assert (f.id, f.primary.repo_id, f.primary.filename) == (
        "phi-4-reasoning:Q4_K_M", "unsloth/Phi-4-reasoning-GGUF", "Phi-4-reasoning-Q4_K_M.gguf")
    assert 8.5e9 < f.approx_size < 9.5e9


def test_every_model_has_a_fallback_repository_and_real_file_names(catalog):
    assert {m.id for m in catalog.models} == {"phi-4-reasoning", "phi-4-reasoning-plus", "phi-4-mini-reasoning"}
    for model in catalog.models:
        assert len({s.repo_id for f in model.files for s in f.sources}) >= 2, model.id
        assert {"Q4_K_M", "Q8_0"} <= {f.quant for f in model.files}
        for f in model.files:
            for s in f.sources:
                owner, repo = s.repo_id.split("/")
                assert s.filename.endswith(f"-{f.quant}.gguf")
                if owner == "bartowski":  # bartowski names files after the original repo, with its owner
                    base = repo.removeprefix("microsoft_").removesuffix("-GGUF")
                    assert s.filename == f"microsoft_{base}-{f.quant}.gguf"
                else:
                    assert s.filename == f"{repo.removesuffix('-GGUF')}-{f.quant}.gguf"
    mini = catalog.find(MINI)
    assert mini.primary.repo_id == "lmstudio-community/Phi-4-mini-reasoning-GGUF" and mini.approx_size < 3e9


def test_find_accepts_ids_quants_and_repo_paths(catalog):
    assert catalog.find("phi-4-reasoning-plus", "q8_0").id == "phi-4-reasoning-plus:Q8_0"
    assert catalog.find("Phi-4-Reasoning").quant == "Q4_K_M"
    adhoc = catalog.find("someone/Thing-GGUF/sub/Thing-Q5_K_M.gguf")
    assert adhoc.primary.repo_id == "someone/Thing-GGUF" and adhoc.primary.filename == "sub/Thing-Q5_K_M.gguf"
    assert adhoc.quant == "Q5_K_M"
    with pytest.raises(UnknownModel, match="Known models"):
        catalog.find("phi-5")
    with pytest.raises(UnknownModel, match="no Q2_K"):
        catalog.find("phi-4-reasoning", "Q2_K")
    assert quant_from_name("x-IQ4_XS.gguf") == "IQ4_XS" and quant_from_name("x.gguf") == ""


def test_listing_follows_a_download_from_partial_to_verified_to_corrupt(catalog, store, tmp_path):
    cache = tmp_path / "hf"
    cfile = catalog.find(MINI)
    data = model_files.make_random_bytes(tmp_path / "blob", 2_000_000).read_bytes()

    def state():
        return next(s for s in catalog_states(catalog, store, cache) if s.file.id == MINI)

    assert state().state == "absent" and state().size == cfile.approx_size
    with LocalHub() as hub:
        # Only the fallback repository has it: the listing must find it there too.
        hub.add(cfile.sources[1].repo_id, cfile.sources[1].filename, data)
        hub.faults.chunk, hub.faults.delay = 16 * 1024, 0.001
        cancel = threading.Event()
        with pytest.raises(dl.DownloadCancelled):
            dl.download_catalog_file(cfile, store=store, cache_dir=cache, endpoint=hub.url,
                                     retry=RetryPolicy(base_delay=0),
                                     progress=lambda p: p.done > 500_000 and cancel.set(), cancel=cancel)
        partial = state()
        assert partial.state == "partial" and partial.path is None and not partial.usable
        assert partial.size == len(data) and 500_000 < partial.done < len(data)
        hub.faults.delay = 0
        done = dl.download_catalog_file(cfile, store=store, cache_dir=cache, endpoint=hub.url)
    st = state()
    assert (st.state, st.path, st.source) == ("verified", done.path, cfile.sources[1]) and st.usable
    with open(os.path.realpath(st.path), "r+b") as fh:
        fh.write(b"XXXX")
    assert state().state == "unverified"  # changed since it was hashed: hashed again before use
    with pytest.raises(dl.ChecksumMismatch):
        store.verify(st.path, done.sha256)
    assert state().state == "corrupt" and not state().usable


def test_discovery_offers_hf_cache_models_folder_and_lm_studio(tmp_path, store):
    cache = tmp_path / "hf"
    with LocalHub() as hub:
        hub.add("other/Some-GGUF", "some-Q6_K.gguf", b"GGUF" + bytes(100))
        dl.download_file("other/Some-GGUF", "some-Q6_K.gguf", store=store, cache_dir=cache, endpoint=hub.url)
    lms = tmp_path / ".lmstudio" / "models" / "lmstudio-community" / "X-GGUF"
    lms.mkdir(parents=True)
    (lms / "X-Q4_K_M.gguf").write_bytes(b"GGUF")
    (lms / "mmproj-X-f16.gguf").write_bytes(b"GGUF")
    (lms / "Big-00002-of-00002.gguf").write_bytes(b"GGUF")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "Mine-Q8_0.gguf").write_bytes(b"GGUF")
    (mine / ".Mine-Q8_0.gguf.0123.incomplete").write_bytes(b"GG")
    found = discover(cache, mine, lmstudio=[tmp_path / ".lmstudio" / "models", tmp_path / "nowhere"])
    got = {(f.origin, f.path.name, f.quant) for f in found}
    assert got == {("hf-cache", "some-Q6_K.gguf", "Q6_K"), ("models-folder", "Mine-Q8_0.gguf", "Q8_0"),
                   ("lmstudio", "X-Q4_K_M.gguf", "Q4_K_M")}
    assert next(f for f in found if f.origin == "hf-cache").repo_id == "other/Some-GGUF"


def test_import_validates_and_remembers(tmp_path, smollm2, tiny_phi3):
    imported = ImportedModels(tmp_path / "data" / "models.json")
    info = imported.add(tiny_phi3)
    assert info.architecture == "phi3"
    imported.add(tiny_phi3)  # twice: still one entry
    entries = json.loads((tmp_path / "data" / "models.json").read_text())["models"]
    assert [e["path"] for e in entries] == [str(Path(tiny_phi3).resolve())]
    assert [f.path for f in imported.found()] == [Path(tiny_phi3).resolve()]
    imported.remove(tiny_phi3)
    assert imported.entries() == []


@pytest.mark.parametrize("make, error", [
    (lambda d, src: model_files.make_random_bytes(d / "random.gguf"), NotAGGUF),
    (lambda d, src: model_files.make_empty(d / "empty.gguf"), NotAGGUF),
    (lambda d, src: model_files.make_truncated_copy(src, d / "cut.gguf", 0.5), CorruptModel),
    (lambda d, src: model_files.make_unknown_arch(d / "foo.gguf"), UnsupportedArchitecture),
    (lambda d, src: d / "missing.gguf", ModelMissing),
])
def test_import_refuses_files_that_cannot_run(tmp_path, smollm2, make, error):
    path = make(tmp_path, smollm2)
    imported = ImportedModels(tmp_path / "models.json")
    with pytest.raises(error) as exc:
        imported.add(path)
    assert Path(path).name in exc.value.user_message
    assert imported.entries() == []
    assert check_model_file(smollm2).architecture == "llama"
