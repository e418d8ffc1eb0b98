"""`labeler serve` and app.py before the server starts: a busy port or a host that is no address
of this machine is one error line, serving to the network without a login warns, and app.py's
default project is one per images folder. The server itself is replaced by a recorder."""

from __future__ import annotations

import importlib.util
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from labeler.cli import EXIT_ERROR, main

ROOT = Path(__file__).resolve().parent.parent
NETWORK_WARNING = "anyone on the network who can reach this machine can see the images"


@pytest.fixture(scope="module")
def app():
    """app.py at the repository root, as a module."""
    spec = importlib.util.spec_from_file_location("labeler_app", ROOT / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def served(monkeypatch, app) -> list[dict]:
    """The servers started (their keyword arguments), none of them for real."""
    import labeler.ui

    calls: list[dict] = []

    def record(project, **kwargs) -> None:
        calls.append(kwargs)

    monkeypatch.setattr(labeler.ui, "serve", record)
    monkeypatch.setattr(app, "serve", record)
    return calls


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port of 127.0.0.1 that a server listens on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))  # bound, never connected: free again once closed
        return probe.getsockname()[1]


def test_serve_on_a_busy_port_is_one_error_line(
    error_line, proj: Path, served: list, busy_port: int
) -> None:
    assert main(["serve", str(proj), "--port", str(busy_port)]) == EXIT_ERROR
    assert error_line() == (
        f"labeler: error: port {busy_port} is in use on 127.0.0.1; pass --port N with a free port"
    )
    assert served == []


def test_serve_on_an_address_of_another_machine_is_one_error_line(
    error_line, proj: Path, served: list
) -> None:
    host = "192.0.2.1"  # TEST-NET-1: documentation only, no machine's address
    assert main(["serve", str(proj), "--host", host, "--port", str(_free_port())]) == EXIT_ERROR
    assert error_line().startswith(f"labeler: error: cannot serve on {host} port ")
    assert served == []


@pytest.mark.parametrize(
    ("options", "host", "auth"),
    [
        (["--host", "0.0.0.0"], "0.0.0.0", None),
        (["--host", "0.0.0.0", "--auth", "ana:secret"], "0.0.0.0", [("ana", "secret")]),
        (["--host", "localhost"], "localhost", None),
        ([], "127.0.0.1", None),
    ],
)
def test_serve_to_the_network_without_a_login_warns(
    proj: Path, served: list, capsys, options: list[str], host: str, auth
) -> None:
    port = _free_port()
    assert main(["serve", str(proj), "--port", str(port), *options]) == 0
    err = capsys.readouterr().err
    warned = host == "0.0.0.0" and auth is None
    assert (NETWORK_WARNING in err) is warned
    if warned:
        assert "add --auth USER:PASSWORD (or --auth-file FILE)" in err
    assert served == [{"host": host, "port": port, "auth": auth}]


def test_app_checks_the_port_and_the_host_before_the_scan(
    app, colour_images, tmp_path: Path, served: list, busy_port: int, capsys, monkeypatch
) -> None:
    folder, _ = colour_images
    project = tmp_path / "p"
    assert (
        app.main([str(folder), "--project", str(project), "--port", str(busy_port)]) == EXIT_ERROR
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"labeler: error: port {busy_port} is in use on 127.0.0.1; pass --port N with a free port"
    ]
    assert not project.exists() and served == []
    with pytest.raises(SystemExit) as e:
        app.main([str(folder), "--port", "99999"])
    assert e.value.code != 0
    assert "expected a port from 1 to 65535, got 99999" in capsys.readouterr().err


def test_app_warns_when_serving_to_the_network_without_a_login(
    app, colour_images, tmp_path: Path, served: list, capsys, monkeypatch
) -> None:
    from labeler.project import Project

    real = Project.init

    def init(path, *, images):  # with the fake embedder: tests load no network weights
        return real(path, images=images, backbone="fake", progress=False)

    monkeypatch.setattr(app.Project, "init", staticmethod(init))
    folder, _ = colour_images
    argv = [str(folder), "--project", str(tmp_path / "p"), "--host", "0.0.0.0"]
    assert app.main([*argv, "--port", str(_free_port())]) == 0
    assert NETWORK_WARNING in capsys.readouterr().err
    assert [call["host"] for call in served] == ["0.0.0.0"]


def test_app_gives_folders_of_one_name_a_project_each(app, tmp_path: Path) -> None:
    a, b = tmp_path / "2023" / "export", tmp_path / "2024" / "export"
    home = tmp_path / "projects"
    pa, pb = app.default_project(a, home), app.default_project(b, home)
    assert pa != pb and pa.parent == pb.parent == home
    assert pa.name.startswith("export-") and pb.name.startswith("export-")
    assert app.default_project(a, home) == pa  # the same folder, the same project


def test_app_keeps_a_project_made_at_the_older_place_on_the_same_folder(
    app, tmp_path: Path
) -> None:
    from imagegen import write_colour_set

    from labeler.project import Project

    a, b = tmp_path / "2023" / "export", tmp_path / "2024" / "export"
    write_colour_set(a, 2)
    home = tmp_path / "projects"
    project, _ = Project.init(home / "export", images=a, backbone="fake", progress=False)
    project.close()
    assert app.default_project(a.resolve(), home) == home / "export"  # its users keep it
    assert app.default_project(b.resolve(), home).name.startswith("export-")


@pytest.mark.parametrize(("users", "said"), [(1, "(1 user)"), (2, "(2 users)")])
def test_serve_says_how_many_users_may_log_in(
    project, monkeypatch, capsys, users: int, said: str
) -> None:
    import labeler.ui.server as server

    monkeypatch.setattr(server, "create_server", lambda project, auth: None)
    monkeypatch.setattr(server.uvicorn, "run", lambda app, **options: None)
    server.run(project, host="127.0.0.1", port=7860, auth=[("ana", "pw"), ("bob", "pw")][:users])
    assert capsys.readouterr().err.startswith(
        f"labeler: serving {project.path} on http://127.0.0.1:7860, login required {said}\n"
    )
