import nbformat

from gentext.execute import clean_outputs, collapse_carriage_returns


def test_carriage_returns_collapse_to_the_last_redraw():
    text = "fit:   0%|  | 0/3\rfit:  33%|# | 1/3\rfit: 100%|##| 3/3\ndone\n"
    assert collapse_carriage_returns(text) == "fit: 100%|##| 3/3\ndone\n"
    assert collapse_carriage_returns("\x1b[31mred\x1b[0m\n") == "red\n"


def test_clean_outputs_merges_streams_and_drops_empty_ones():
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="a:  0%\r"),
                    nbformat.v4.new_output("stream", name="stdout", text="a: 100%\n"),
                    nbformat.v4.new_output("stream", name="stdout", text="\r"),
                    nbformat.v4.new_output("display_data", data={"text/plain": "fig"}),
                    nbformat.v4.new_output("stream", name="stdout", text="\r  \r")]
    nb = nbformat.v4.new_notebook(cells=[cell])
    clean_outputs(nb)
    assert [o.output_type for o in cell.outputs] == ["stream", "display_data"]
    assert cell.outputs[0].text == "a: 100%\n"
