# The stand-in is not a test module: keep pytest's doctest collection
# (--doctest-modules) from importing it into the test session.
collect_ignore = ["google", "colab_kernel_launcher.py"]
