from services.allocation.bootstrap import definition
from shared.service_main import main

main("allocation", definition)
