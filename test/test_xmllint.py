# Copyright 2026 The catpose_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""package.xml is well-formed and follows package format 3 (ament_xmllint where available)."""

from pathlib import Path
import xml.etree.ElementTree as ET

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.linter
@pytest.mark.xmllint
def test_xmllint():
    try:
        from ament_xmllint.main import main
    except ImportError:
        root = ET.parse(ROOT / 'package.xml').getroot()
        assert root.tag == 'package' and root.get('format') == '3'
        for tag in ('name', 'version', 'description', 'maintainer', 'license'):
            assert root.find(tag) is not None and root.find(tag).text.strip(), tag
        assert root.find('name').text == 'catpose_ros'
        assert root.find('export/build_type').text == 'ament_python'
        return
    assert main(argv=[]) == 0, 'Found errors'
