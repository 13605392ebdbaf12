"""Pictures of what the engine computed: Graphviz drawings of a tape, matplotlib plots of training.

    import viz
    graph = viz.draw_graph(tape, loss, show_values=True, show_grads=True)
    viz.render(graph, "docs/two_layer_net.svg")      # .svg / .png / .pdf need Graphviz's `dot`
    viz.plot_training(stats, "out/training.png")
    viz.plot_captions(strips, sampled, truth, "out/captions.png")   # captions under their images
    data = viz.graph_data(tape, loss)   # the graph laid out (dot, else viz/layout.py's), as JSON
    viz.explore(tape, loss).save("explore.html")   # step through forward and backward, in a browser

`viz.graph` needs the `graphviz` Python package (and the `dot` program to render anything but
.dot files); `viz.plots` needs matplotlib and never touches pyplot's global state.
"""
from .captions import plot_captions
from .explore import Explorer, explore
from .graph import DOT_TIMEOUT, RENDER_FORMATS, GraphvizError, GraphvizNotFoundError, draw_graph, render
from .layout import graph_data
from .plots import plot_accuracy, plot_confusion_matrix, plot_loss, plot_training, plot_weights

__all__ = [
    "draw_graph", "render", "GraphvizError", "GraphvizNotFoundError", "RENDER_FORMATS", "DOT_TIMEOUT",
    "plot_loss", "plot_accuracy", "plot_training", "plot_weights", "plot_confusion_matrix",
    "plot_captions", "graph_data", "explore", "Explorer",
]
