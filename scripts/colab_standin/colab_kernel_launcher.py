"""TEST STAND-IN for Colab's kernel launcher: import google.colab, start ipykernel.

Colab's kernel spec runs ``python3 -m colab_kernel_launcher -f {connection_file}``;
its launcher imports ``google.colab`` before the kernel starts, so
``"google.colab" in sys.modules`` is true in every Colab notebook. The kernel
spec that ``scripts/colab_env.sh`` writes runs this module the same way.
"""

if __name__ == "__main__":
    import sys
    from pathlib import Path

    # as ipykernel_launcher: drop the cwd while loading (the kernel adds it back)
    if sys.path[0] == "" or Path(sys.path[0]) == Path.cwd():
        del sys.path[0]

    import google.colab  # noqa: F401  (the point of this launcher)
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()
