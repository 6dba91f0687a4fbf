from services.verification.service import definition
from shared.service_main import main

main("verification", definition)
