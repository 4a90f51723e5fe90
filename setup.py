"""Package layout only (metadata lives in pyproject.toml): the repository's top-level folders install under one
import namespace, `talkzoo`, so a wheel never puts generic names such as `callbacks` into site-packages."""

from setuptools import find_packages, setup

# import name → folder in the repository
NAMESPACE = {
    "talkzoo": "talkzoo",
    "talkzoo.zoo": "zoo",
    "talkzoo.datamodules": "datamodules",
    "talkzoo.lightning_modules": "lightning_modules",
    "talkzoo.callbacks": "callbacks",
    "talkzoo.configs": "configs",
}

packages = []
for name, folder in NAMESPACE.items():
    packages += [name] + [f"{name}.{sub}" for sub in find_packages(folder)]

setup(packages=packages, package_dir=NAMESPACE)
