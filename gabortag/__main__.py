from gabortag.cli import main

main()
