from services.credit.service import definition
from shared.service_main import main

main("credit", definition)
