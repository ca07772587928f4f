from cyverse_link.cli import main

main()
