from __future__ import annotations

import pytest

from vlkit.common.registry import Registry, RegistryKeyError, registry


def test_unknown_name_suggests_close_match() -> None:
    reg = Registry("model")

    @reg.register("blip_caption")
    class Captioner:
        pass

    assert reg.get("blip_caption") is Captioner
    with pytest.raises(RegistryKeyError) as info:
        reg.get("blip_captoin")
    assert isinstance(info.value, KeyError)
    msg = str(info.value)
    assert "'blip_captoin' is not in the model registry" in msg
    assert "Did you mean 'blip_caption'" in msg


def test_duplicate_name_raises_unless_forced() -> None:
    reg = Registry("task")
    reg.register("captioning", type("A", (), {}))
    with pytest.raises(ValueError, match="already registered"):
        reg.register("captioning", type("B", (), {}))
    b = type("B", (), {})
    reg.register("captioning", b, force=True)
    assert reg.get("captioning") is b


def test_reregistering_same_class_is_idempotent() -> None:
    reg = Registry("builder")
    cls = type("C", (), {})
    reg.register("x", cls)
    reg.register("x", cls)
    assert reg.names() == ["x"]


@pytest.mark.parametrize("kind", ["model", "processor", "builder", "task", "runner", "lr_scheduler"])
def test_lavis_verbs_for_every_kind(kind: str) -> None:
    name = f"_test_{kind}_verbs"
    cls = type("Dummy", (), {})
    getattr(registry, f"register_{kind}")(name)(cls)
    try:
        assert getattr(registry, f"get_{kind}_class")(name) is cls
        assert name in getattr(registry, f"list_{kind}s")()
        with pytest.raises(RegistryKeyError):
            getattr(registry, f"get_{kind}_class")(name + "_nope")
    finally:
        registry.of(kind).unregister(name)


def test_registry_holds_no_runtime_state() -> None:
    assert not hasattr(registry, "register_path")
    with pytest.raises(AttributeError):
        registry.register("MAX_INT", 10)  # type: ignore[attr-defined]


def test_renamed_tasks_keep_their_old_names_with_a_deprecation() -> None:
    """Task names match their models (``nlvr``/``blip_nlvr``, ``dialog``/``blip_dialog``); old names still work."""
    import vlkit.tasks  # noqa: F401 (registers the tasks)
    from vlkit.common.registry import registry

    for old, new in (("multimodal_classification", "nlvr"), ("dialogue", "dialog")):
        with pytest.warns(DeprecationWarning, match=rf"{old!r} is deprecated .* use {new!r}"):
            assert registry.get_task_class(old) is registry.get_task_class(new)
        assert new in registry.list_tasks() and old not in registry.list_tasks() and old in registry.of("task")


def test_the_verbs_are_generated_for_every_kind_of_the_table() -> None:
    from vlkit.common.registry import KIND_TABLE

    for kind, plural in KIND_TABLE.items():
        register, get, names = (
            getattr(registry, f"register_{kind}"),
            getattr(registry, f"get_{kind}_class"),
            getattr(registry, f"list_{plural}"),
        )
        name = f"_verb_probe_{kind}"
        probe = type("Probe", (), {})
        try:
            assert register(name)(probe) is probe
            assert get(name) is probe and name in names() and name in registry.of(kind)
        finally:
            registry.of(kind).unregister(name)
        assert name not in names()
