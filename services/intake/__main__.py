from services.intake.service import definition
from shared.service_main import main

main("intake", definition)
