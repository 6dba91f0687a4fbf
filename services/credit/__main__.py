from services.credit.bootstrap import definition
from shared.service_main import main

main("credit", definition)
