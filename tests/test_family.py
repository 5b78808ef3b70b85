"""The family interface: the registry, the config sections and checks a family brings, the data it takes."""

import dataclasses

import ml_collections
import pytest

from jaxgan import config as config_lib, data, family
from jaxgan.errors import UserError
from jaxgan.families import tables, translation
from tests.conftest import tiny_config


def test_every_model_name_has_one_family_and_an_unknown_one_is_named_with_all():
    assert {f.name: f.names() for f in family.registered()} == {
        'gan': ('dcgan', 'mlp', 'resnet', 'stylegan2', 'progan', 'r3gan'), 'translation': ('pix2pix', 'cyclegan', 'ugatit'),
        'tables': ('ctgan',)}
    assert [family.of_config(tiny_config(model__name=n)).name for n in ('progan', 'ugatit', 'ctgan')] == [
        'gan', 'translation', 'tables']
    with pytest.raises(UserError, match=r"^config.model.name='dcgn' is not one of dcgan, mlp, resnet, stylegan2, "
                                        r"progan, r3gan, pix2pix, cyclegan, ugatit, ctgan$"):
        config_lib.validate(tiny_config(model__name='dcgn'), num_devices=1)


def test_a_familys_config_section_is_its_own_and_validated_where_it_trains():
    config = config_lib.base_config()
    assert config.translation.to_dict() == translation.config_section().to_dict()
    assert config.table.to_dict() == tables.config_section().to_dict()
    assert config_lib.descriptions()['table.holdout'].startswith('the fraction of rows kept apart')
    bad = tiny_config(table__holdout=1.5)
    config_lib.validate(bad, num_devices=1)  # a DCGAN's run: config.table is not its section
    bad.model.name = 'ctgan'
    with pytest.raises(UserError, match=r'^config.table.holdout=1.5 must be in \[0, 1\)$'):
        config_lib.validate(bad, num_devices=1)


def _probe_section() -> ml_collections.ConfigDict:
    """A family of the test's own."""
    c = ml_collections.ConfigDict()
    c.width = 4  # the test's width
    return c


def _probe_validate(config):
    if config.probe.width < 1:
        raise UserError(f'config.probe.width={config.probe.width} must be positive')


def test_a_new_family_brings_its_section_and_checks_with_its_registration():
    gan = family.get('gan')
    family.register(dataclasses.replace(gan, name='probe', trains=lambda name: name == 'probe',
                                        names=lambda: ('probe',), sections=(('probe', _probe_section),),
                                        validate=_probe_validate))
    try:
        config = tiny_config(model__name='probe')
        assert config.probe.width == 4 and config_lib.descriptions()['probe.width'] == "the test's width"
        config.probe.width = 0
        with pytest.raises(UserError, match=r'^config.probe.width=0 must be positive$'):
            config_lib.validate(config, num_devices=1)
    finally:
        family.unregister('probe')
    assert 'probe' not in config_lib.base_config()


def test_data_of_another_family_are_refused_naming_the_models_that_learn_them():
    with pytest.raises(UserError, match=r'^config.model.name=dcgan learns single images or vectors: config.dataset='
                                        r'table:diabetes holds a table: train them with config.model.name=ctgan$'):
        family.check_data(tiny_config(dataset='table:diabetes'), data.load(tiny_config(dataset='table:diabetes')))


def test_the_import_contracts_name_every_architecture_module():
    """The one-door contracts of pyproject.toml list the architecture modules by hand: a module added to
    jaxgan/models without its line there would escape them."""
    import os
    tomllib = pytest.importorskip('tomllib')  # Python 3.11 and newer
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, 'pyproject.toml'), 'rb') as f:
        contracts = tomllib.load(f)['tool']['importlinter']['contracts']
    shared = {'__init__', 'registry', 'official', 'layers', 'convolution'}  # the door and what every model shares
    modules = {f'jaxgan.models.{name[:-3]}' for name in os.listdir(os.path.join(root, 'jaxgan', 'models'))
               if name.endswith('.py') and name[:-3] not in shared}
    doors = [c for c in contracts if c['type'] == 'forbidden' and 'jaxgan.train' in c['source_modules']]
    assert len(doors) == 1
    assert modules - set(doors[0]['forbidden_modules']) == set()
