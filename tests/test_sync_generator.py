"""The sync generator on a small fake async package that uses every construct it translates.

The fake package is written to a temporary directory, the generator turns it into a sync
package there, and the tests use that package for real (its twins run on a private loop).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sync_points import CtrlC

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "scripts" / "generate_sync.py"

FAKE: dict[str, str] = {
    "__init__.py": '''
        """A fake async SDK."""
        from fakeflow._client import AsyncFake
        from fakeflow._lite import AsyncLite, fetch_version
        from fakeflow._errors import FakeError
        from fakeflow._models import Item
        from fakeflow._pager import AsyncPager

        __version__ = "1.2.3"
        __all__ = [
            "AsyncFake", "AsyncLite", "AsyncPager", "FakeError", "Item", "__version__",
            "fetch_version",
        ]
    ''',
    "_errors.py": '''
        """Errors."""
        class FakeError(Exception):
            """Raised by the fake."""
    ''',
    "_models.py": '''
        """Models."""
        from dataclasses import dataclass

        @dataclass
        class Item:
            """One item."""
            id: int

        ProgressCallback = "Callable[[int], None]"
    ''',
    "_pager.py": '''
        """A pager: awaitable and async-iterable (all items), count(), at(i), page(n)."""
        from __future__ import annotations

        from collections.abc import AsyncIterator, Generator
        from typing import Any, Generic, TypeVar

        T = TypeVar("T")


        class AsyncPager(Generic[T]):
            """Pages of items."""

            def __init__(self, items: list[T], size: int) -> None:
                self._items = items
                self._size = size

            def __await__(self) -> Generator[Any, None, list[T]]:
                return self.all().__await__()

            async def __aiter__(self) -> AsyncIterator[T]:
                for item in self._items:
                    yield item

            async def all(self) -> list[T]:
                """Every item."""
                return list(self._items)

            async def count(self) -> int:
                """How many items there are."""
                return len(self._items)

            async def at(self, index: Any) -> Any:
                """One item, or a slice."""
                return self._items[index]

            async def items_from(self, start: int) -> list[T]:
                """The items from ``start`` on."""
                return self._items[start:]

            async def page(self, number: int) -> list[T]:
                """One page of items (1-based)."""
                start = (number - 1) * self._size
                return self._items[start : start + self._size]
    ''',
    "_reads.py": '''
        """A mixin with reads."""
        from __future__ import annotations

        import builtins
        import threading
        from collections.abc import AsyncIterator, Callable
        from contextlib import AbstractAsyncContextManager, asynccontextmanager
        from typing import TYPE_CHECKING, overload

        import anyio

        from fakeflow._base import Base

        if TYPE_CHECKING:
            from fakeflow._models import Item
            from fakeflow._pager import AsyncPager

        DEFAULT_LIMIT = 3
        TRANSFERS_DONE: list[int] = []


        class Reads(Base):
            """Reads (mixin)."""

            async def get(self, item_id: int, /, *, label: str | None = None) -> Item:
                """Fetch one item.

                Example:
                    ```python
                    item = await fake.things.get(1)
                    async with fake.things.hold(1) as held:
                        print(held, "await in a string stays")
                    ```
                """
                from fakeflow._models import Item

                await anyio.sleep(0)
                return Item(item_id)

            def list(self, limit: int = DEFAULT_LIMIT) -> AsyncPager[Item]:
                """All items, paged."""
                from fakeflow._models import Item
                from fakeflow._pager import AsyncPager

                return AsyncPager([Item(i) for i in range(limit)], 2)

            async def many(self, n: int) -> builtins.list[Item]:
                """Declared after ``list``: the twin must still mean the builtin."""
                from fakeflow._models import Item

                return [Item(i) for i in range(n)]

            async def stream(self, n: int) -> AsyncIterator[int]:
                """Numbers yielded while holding a cancel scope open across ``yield``."""
                with anyio.CancelScope():
                    try:
                        for i in range(n):
                            yield i
                    finally:
                        self.log.append(("stream closed", threading.get_ident()))

            def hold(self, item_id: int) -> AbstractAsyncContextManager[Item]:
                """Hold an item; enter and exit run in one task."""
                from fakeflow._models import Item

                @asynccontextmanager
                async def held() -> AsyncIterator[Item]:
                    with anyio.CancelScope():
                        self.log.append(("enter", item_id))
                        yield Item(item_id)
                        self.log.append(("exit", item_id))

                return held()

            async def transfer(
                self, n: int, *, on_progress: Callable[[int], None] | None = None
            ) -> int:
                """Report progress ``n`` times."""
                for i in range(n):
                    if on_progress is not None:
                        on_progress(i)
                    await anyio.sleep(0)
                TRANSFERS_DONE.append(n)
                return n

            @overload
            async def pick(self, key: int) -> int: ...
            @overload
            async def pick(self, key: str) -> str: ...
            async def pick(self, key: int | str) -> int | str:
                """Overloaded: the same type back."""
                return key

            async def fail(self, kind: str) -> None:
                """Raise an error chosen by name."""
                from fakeflow._errors import FakeError

                if kind == "keyboard":
                    raise KeyboardInterrupt
                raise FakeError(kind)

            async def slow(self) -> None:
                """Sleep until cancelled, then record the cleanup."""
                self.log.append(("slow started", 0))
                try:
                    await anyio.sleep_forever()
                finally:
                    with anyio.CancelScope(shield=True):
                        await anyio.sleep(0.01)
                        self.log.append(("slow cancelled", 0))
    ''',
    "_base.py": '''
        """Base of resources."""
        from __future__ import annotations


        class Base:
            """Holds shared state."""

            def __init__(self, log: list[tuple[str, int]]) -> None:
                self.log = log
    ''',
    "_things.py": '''
        """A resource composed of mixins."""
        from fakeflow._reads import Reads


        class ThingResource(Reads):
            """Things."""
    ''',
    "_lite.py": '''
        """A second root: not a context manager, only ``aclose``."""
        import threading

        CLOSED: list[str] = []


        async def fetch_version(prefix: str = "v") -> tuple[str, int]:
            """An exported coroutine function (and the thread it ran on)."""
            return prefix + "1.2.3", threading.get_ident()


        class AsyncLite:
            """A light client."""

            def __init__(self, name: str) -> None:
                self.name = name

            async def ping(self) -> str:
                """Answer."""
                return f"pong from {self.name}"

            async def aclose(self) -> None:
                """Close it."""
                CLOSED.append(self.name)
    ''',
    "_job.py": '''
        """A job handle: async methods and an async context manager, returned by a coroutine."""
        from __future__ import annotations

        from collections.abc import Generator
        from types import TracebackType
        from typing import Any, Self

        import anyio


        class Job:
            """A running job."""

            def __init__(self, steps: int, log: list[tuple[str, int]]) -> None:
                self.steps = steps
                self.log = log

            @property
            def finished(self) -> bool:
                """Whether the job ran."""
                return ("job done", self.steps) in self.log

            def __await__(self) -> Generator[Any, None, int]:
                return self.wait().__await__()

            async def wait(self) -> int:
                """Wait for the job."""
                await anyio.sleep(0)
                self.log.append(("job done", self.steps))
                return self.steps

            async def __aenter__(self) -> Self:
                self.log.append(("job enter", self.steps))
                return self

            async def __aexit__(
                self,
                exc_type: type[BaseException] | None,
                exc: BaseException | None,
                tb: TracebackType | None,
            ) -> None:
                self.log.append(("job exit", self.steps))
    ''',
    "_client.py": '''
        """The client."""
        from __future__ import annotations

        import threading
        from types import TracebackType

        from fakeflow._job import Job
        from fakeflow._things import ThingResource

        PREFIX = "fake"


        class AsyncFake:
            """An async client.

            Example:
                ```python
                import anyio

                async def main() -> None:
                    async with AsyncFake() as fake:
                        await fake.aclose()

                anyio.run(main)
                ```
            """

            def __init__(self, prefix: str = PREFIX, *, limit: int = 3) -> None:
                self.log: list[tuple[str, int]] = []
                self._things = ThingResource(self.log)
                self.prefix = prefix
                self.built_on = threading.get_ident()

            async def __aenter__(self) -> AsyncFake:
                self.log.append(("client enter", threading.get_ident()))
                return self

            async def __aexit__(
                self,
                exc_type: type[BaseException] | None,
                exc: BaseException | None,
                tb: TracebackType | None,
            ) -> None:
                await self.aclose()

            async def aclose(self) -> None:
                """Close it."""
                self.log.append(("client closed", threading.get_ident()))

            @property
            def things(self) -> ThingResource:
                """The things."""
                return self._things

            def describe(self) -> str:
                """A plain method, passed through."""
                return f"{self.prefix}!"

            async def loop_thread(self) -> int:
                """The thread this coroutine runs on."""
                return threading.get_ident()

            @classmethod
            def from_env(cls, *, limit: int = 4) -> AsyncFake:
                """Build a client from the environment."""
                return cls("env", limit=limit)

            async def start_job(self, steps: int) -> Job:
                """Start a job (a class with async members, returned by a coroutine)."""
                return Job(steps, self.log)
    ''',
}


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_sync", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate_sync"] = module
    spec.loader.exec_module(module)
    return module


def _write_fake(root: Path) -> None:
    package = root / "fakeflow"
    package.mkdir(parents=True, exist_ok=True)
    for name, text in FAKE.items():
        (package / name).write_text(textwrap.dedent(text).lstrip())


def _run_generator(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(GENERATOR), "--source", "fakeflow", "--package", "fakesync"]
    command += ["--output", str(root / "fakesync"), *args]
    env = {"PYTHONPATH": str(root), "PATH": ""}
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("fake")
    _write_fake(root)
    generator = _load_generator()
    sys.path.insert(0, str(root))
    try:
        files, skipped = generator.generate("fakeflow", "fakesync")
        assert skipped == []
        (root / "fakesync").mkdir()
        for name, text in files.items():
            (root / "fakesync" / name).write_text(text)
        yield root
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m.split(".")[0] in ("fakeflow", "fakesync")]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def fakesync(fake_root: Path) -> ModuleType:
    return importlib.import_module("fakesync")


@pytest.fixture
def fake(fakesync: ModuleType) -> Iterator[Any]:
    with fakesync.Fake(limit=5) as client:
        yield client


def test_output_is_generated_and_readable(fake_root: Path) -> None:
    text = (fake_root / "fakesync" / "_generated.py").read_text()
    assert text.startswith("# GENERATED by scripts/generate_sync.py")
    assert "class Fake:" in text and "class Pager(PagerSequence[T]):" in text
    assert "def count(" not in text.split("class Pager(")[1].split("class ")[0]  # the base's
    assert "class ThingResource:" in text
    # Item is imported only under TYPE_CHECKING in the source: it resolves, by its public path
    assert "from fakeflow import Item\n" in text
    assert "from fakeflow._reads import DEFAULT_LIMIT\n" in text  # a default's name, same object
    assert "from fakeflow._client import PREFIX, AsyncFake\n" in text


def test_signatures_defaults_and_docstrings_match(fakesync: ModuleType) -> None:
    fakeflow = importlib.import_module("fakeflow")
    things = importlib.import_module("fakeflow._things").ThingResource
    twin = fakesync._generated.ThingResource
    for name in ("get", "list", "stream", "hold", "transfer", "fail"):
        source_sig = inspect.signature(getattr(things, name))
        twin_sig = inspect.signature(getattr(twin, name))
        assert list(source_sig.parameters) == list(twin_sig.parameters), name
        for param in source_sig.parameters.values():
            assert twin_sig.parameters[param.name].default is param.default, name
            assert twin_sig.parameters[param.name].kind is param.kind, name
    client_params = inspect.signature(fakesync.Fake).parameters
    assert client_params["prefix"].default == "fake"
    assert client_params["limit"].kind is inspect.Parameter.KEYWORD_ONLY
    assert inspect.getdoc(twin.transfer) == inspect.getdoc(things.transfer)
    assert fakesync.Item is fakeflow.Item and fakesync.FakeError is fakeflow.FakeError
    assert not hasattr(fakesync, "AsyncFake")


def test_example_code_is_adapted_token_by_token(fakesync: ModuleType) -> None:
    doc = inspect.getdoc(fakesync._generated.ThingResource.get) or ""
    assert "item = fake.things.get(1)" in doc
    assert "with fake.things.hold(1) as held:" in doc
    assert '"await in a string stays"' in doc
    client_doc = inspect.getdoc(fakesync.Fake) or ""
    assert "with Fake() as fake:" in client_doc
    assert "fake.close()" in client_doc and "main()" in client_doc
    assert "anyio.run" not in client_doc


def test_client_lives_on_its_own_loop_thread(fake: Any) -> None:
    loop_thread = fake.loop_thread()
    assert loop_thread != threading.get_ident()
    assert fake._async.built_on == loop_thread  # built on the loop, so pools bind to it
    assert ("client enter", loop_thread) in fake._async.log
    assert fake.describe() == "fake!"  # plain method passes through


def test_coroutines_pager_iterators_and_contexts(fake: Any, fakesync: ModuleType) -> None:
    assert fake.things.get(7, label="x") == fakesync.Item(7)
    assert (fake.things.pick(3), fake.things.pick("a")) == (3, "a")
    assert fake.things.many(2) == [fakesync.Item(0), fakesync.Item(1)]
    pager = fake.things.list(5)
    assert isinstance(pager, fakesync.Pager) and isinstance(pager, Sequence)
    assert [item.id for item in pager] == [0, 1, 2, 3, 4]
    assert pager.count() == len(pager) == 5  # a pager twin is a lazy Sequence (#17)
    assert (pager[0], pager[-1], pager[1:3]) == (
        fakesync.Item(0),
        fakesync.Item(4),
        [fakesync.Item(1), fakesync.Item(2)],
    )
    assert fakesync.Item(3) in pager and pager.index(fakesync.Item(3)) == 3
    assert pager.count(fakesync.Item(3)) == 1  # Sequence.count(value) still works
    assert pager.page(3) == [fakesync.Item(4)]
    assert pager.all() == [fakesync.Item(i) for i in range(5)]
    assert list(fake.things.stream(3)) == [0, 1, 2]
    with fake.things.hold(9) as held:
        assert held == fakesync.Item(9)
        assert fake._async.log[-1] == ("enter", 9)
    assert fake._async.log[-1] == ("exit", 9)


def test_breaking_out_of_an_iteration_closes_the_producer(fake: Any) -> None:
    for number in fake.things.stream(1000):
        if number == 2:
            break
    closed = [entry for entry in fake._async.log if entry[0] == "stream closed"]
    assert closed == [("stream closed", fake.loop_thread())]


def test_errors_cross_threads_including_base_exceptions(fake: Any, fakesync: ModuleType) -> None:
    with pytest.raises(fakesync.FakeError, match="boom"):
        fake.things.fail("boom")
    with pytest.raises(KeyboardInterrupt):
        fake.things.fail("keyboard")
    assert fake.things.get(1) == fakesync.Item(1)  # the portal survived the BaseException


def test_sync_callbacks_run_off_the_loop_in_order(fake: Any) -> None:
    seen: list[tuple[int, int]] = []
    assert fake.things.transfer(50, on_progress=lambda n: seen.append((n, threading.get_ident())))
    assert [n for n, _ in seen] == list(range(50))  # every call, in order, before returning
    loop_thread = fake.loop_thread()
    assert all(thread not in (loop_thread, threading.get_ident()) for _, thread in seen)


def test_twins_returned_by_coroutines_and_class_factories(fake: Any, fakesync: ModuleType) -> None:
    job = fake.start_job(3)
    assert isinstance(job, fakesync._generated.Job)
    with job as entered:
        assert entered is job
        assert not job.finished
        assert job.wait() == 3
        assert job.finished
        assert job.result() == 3  # ``await job`` on the async side
    assert fake._async.log[-4:] == [
        ("job enter", 3),
        ("job done", 3),
        ("job done", 3),
        ("job exit", 3),
    ]
    with fakesync.Fake.from_env(limit=2) as built:
        assert isinstance(built, fakesync.Fake)
        assert built.describe() == "env!"
        assert built._async.built_on == built.loop_thread()


@pytest.mark.timing
def test_ctrl_c_cancels_the_task_and_waits_for_its_cleanup(fake: Any) -> None:
    started = ("slow started", 0)
    with (
        CtrlC(lambda: started in fake._async.log, "the call starting"),
        pytest.raises(KeyboardInterrupt),
    ):
        fake.things.slow()
    assert ("slow cancelled", 0) in fake._async.log  # its shielded cleanup ran before return
    assert fake.things.get(2).id == 2  # the client is still usable


def test_a_root_with_only_aclose_is_closed_with_it(fakesync: ModuleType) -> None:
    closed = importlib.import_module("fakeflow._lite").CLOSED
    with fakesync.Lite("x") as lite:
        assert lite.ping() == "pong from x"
    assert closed == ["x"]


def test_a_blocked_callback_does_not_stall_the_transfer(fake: Any) -> None:
    done = importlib.import_module("fakeflow._reads").TRANSFERS_DONE
    seen: list[bool] = []

    def blocked(n: int) -> None:
        if n == 0:  # hold the first delivery until the transfer itself has finished
            for _ in range(1000):
                if 7 in done:
                    break
                threading.Event().wait(0.01)
        seen.append(7 in done)

    assert fake.things.transfer(7, on_progress=blocked) == 7
    assert seen == [True] * 7  # the loop never waited for the callback


def test_exported_coroutine_functions_get_blocking_twins(fakesync: ModuleType) -> None:
    version, thread = fakesync.fetch_version(prefix="v=")
    assert version == "v=1.2.3" and thread != threading.get_ident()
    assert not inspect.iscoroutinefunction(fakesync.fetch_version)


def test_close_is_idempotent_and_later_use_is_refused(fakesync: ModuleType) -> None:
    client = fakesync.Fake()
    log = client._async.log
    client.close()
    client.close()
    assert [entry[0] for entry in log].count("client closed") == 1
    with pytest.raises(fakesync.SyncUsageError, match="closed"):
        client.loop_thread()


def test_check_mode_passes_then_catches_a_hand_edit_and_an_orphan(fake_root: Path) -> None:
    assert _run_generator(fake_root, "--check").returncode == 0
    generated = fake_root / "fakesync" / "_generated.py"
    original = generated.read_text()
    generated.write_text(original.replace("One item.", "One item!"))
    generated.write_text(original + "\n# a hand edit\n")
    result = _run_generator(fake_root, "--check")
    assert result.returncode == 1 and "stale or hand-edited" in result.stderr
    generated.write_text(original)
    orphan = fake_root / "fakesync" / "_old.py"
    orphan.write_text("")
    result = _run_generator(fake_root, "--check")
    assert result.returncode == 1 and "orphaned" in result.stderr
    orphan.unlink()
    assert _run_generator(fake_root, "--check").returncode == 0


def test_regeneration_picks_up_a_new_async_method(tmp_path: Path) -> None:
    _write_fake(tmp_path)
    assert _run_generator(tmp_path).returncode == 0
    client = tmp_path / "fakeflow" / "_client.py"
    client.write_text(
        client.read_text()
        + textwrap.indent(
            textwrap.dedent('''

                async def ping(self, times: int = 2) -> str:
                    """A method added later."""
                    return "pong" * times

                async def follow(self, job: Job) -> None:
                    """Takes an object that has a twin: reported, not translated."""
            '''),
            "    ",
        )
    )
    result = _run_generator(tmp_path, "--check")
    assert result.returncode == 1 and "def ping" in result.stderr
    result = _run_generator(tmp_path)
    assert result.returncode == 0
    assert "not translated: Fake.follow: parameter 'job' takes an object with a twin" in (
        result.stderr
    )
    text = (tmp_path / "fakesync" / "_generated.py").read_text()
    assert "# skipped follow:" in text
    assert "def ping(self, times: int = 2) -> str:" in text
    assert "return self._portal.call(self._async.ping, times=times)" in text


def test_generated_fake_passes_mypy_strict(fake_root: Path) -> None:
    mypy = Path(sys.executable).with_name("mypy")
    result = subprocess.run(
        [str(mypy), "--strict", "--no-incremental", "--config-file", "/dev/null", "-p", "fakesync"],
        capture_output=True,
        text=True,
        cwd=fake_root,
        env={"MYPYPATH": str(fake_root), "PATH": ""},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_public_reexport_module_gets_a_checked_mirror(tmp_path: Path) -> None:
    """A public module of the source (``flowbio_async/auth.py``) is mirrored by re-export;
    ``--check`` catches a hand edit of the mirror and a public module with logic is refused."""
    _write_fake(tmp_path)
    public = tmp_path / "fakeflow" / "errors.py"
    public.write_text(
        '"""Errors as the old client named them.\n\nExample:\n    ```python\n'
        "    from fakeflow import AsyncFake\n"
        "    async with AsyncFake() as fake:\n        await fake.things.get(1)\n"
        '    ```\n"""\n\nfrom fakeflow._errors import FakeError\n\n__all__ = ["FakeError"]\n'
    )
    assert _run_generator(tmp_path).returncode == 0
    mirror = tmp_path / "fakesync" / "errors.py"
    text = mirror.read_text()
    assert "from fakeflow.errors import FakeError" in text
    assert "with Fake() as fake:\n        fake.things.get(1)" in text  # the example adapted
    assert _run_generator(tmp_path, "--check").returncode == 0
    mirror.write_text(text + "x = 1\n")
    result = _run_generator(tmp_path, "--check")
    assert result.returncode == 1 and "errors.py: stale or hand-edited" in result.stderr
    public.write_text(public.read_text() + "\ndef helper() -> int:\n    return 1\n")
    result = _run_generator(tmp_path, "--check")
    assert result.returncode == 2 and "may only re-export" in result.stderr
    public.write_text(
        '"""Twins."""\nfrom fakeflow._client import AsyncFake\n__all__ = ["AsyncFake"]\n'
    )
    result = _run_generator(tmp_path, "--check")
    assert result.returncode == 2 and "has a sync twin" in result.stderr
    public.unlink()
    result = _run_generator(tmp_path, "--check")
    assert result.returncode == 1 and "errors.py: orphaned" in result.stderr
