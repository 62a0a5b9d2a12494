"""utils.tables: the one helper lectures use for tables."""
import pytest
import torch

from utils.tables import table


def test_numbers_are_right_aligned_with_the_given_decimals():
    text = str(table(["model", "nats"], [["2-D", 138.784], ["20-D", 97.6]], digits=2))
    lines = text.splitlines()
    assert lines[0].split() == ["model", "nats"]
    assert lines[2].endswith("138.78") and lines[3].endswith(" 97.60")


def test_integers_keep_every_digit_with_thousands_separators():
    assert "18,670" in str(table(["ratio"], [[18670]]))


def test_a_zero_dimensional_tensor_is_shown_as_its_number():
    assert "1.50" in str(table(["x"], [[torch.tensor(1.5)]]))


def test_html_has_a_header_cell_per_column_and_escapes_text():
    html = table(["a<b", "c"], [["x", 1.0]])._repr_html_()
    assert html.count("</th>") == 2 and "a&lt;b" in html


def test_a_row_of_the_wrong_length_is_refused_with_its_index():
    with pytest.raises(ValueError, match="row 1 has 1 values for 2 columns"):
        table(["a", "b"], [[1, 2], [3]])
