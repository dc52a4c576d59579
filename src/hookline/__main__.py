from hookline.cli import main

main(prog_name="hookline")
