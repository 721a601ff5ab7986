"""Package list for the remapped core: `platform/` installs as `licheng`.

pyproject.toml holds everything else; this file exists only because
setuptools' automatic discovery cannot rename a folder while it searches it.
"""

from setuptools import find_packages, setup


def remapped(prefix: str, folder: str) -> list[str]:
    return [prefix] + [f"{prefix}.{name}" for name in find_packages(folder)]


setup(
    packages=remapped("licheng", "platform")
    + remapped("taipei_coolcloud", "plugins/taipei_coolcloud")
    + remapped("moe_central", "plugins/moe_central"),
)
