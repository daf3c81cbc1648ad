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

from catpose_ros.categories import category_color, category_names


def test_each_nocs_category_has_its_own_colour():
    colours = [category_color(name) for name in category_names()]
    assert len(set(colours)) == len(colours) == 6
    assert all(0.0 <= c <= 1.0 for colour in colours for c in colour)


def test_an_unknown_category_gets_a_colour_from_its_name_alone():
    teapot = category_color('teapot')
    assert teapot == category_color('teapot')      # same name, same colour in every process
    assert len({category_color('object%d' % i) for i in range(40)}) > 1
