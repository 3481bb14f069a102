"""Medical templates of the sample corpus (clinical notes, drug monographs, patient Q&A), written for dapt."""

from __future__ import annotations

from typing import Any

from dapt.pipeline.sample.terms import Genre, integer

MED_SLOTS: dict[str, Any] = {
    "age": integer(19, 88), "person": ["man", "woman", "retired teacher", "construction worker", "college student"],
    "condition": ["hypertension", "type 2 diabetes mellitus", "chronic obstructive pulmonary disease",
                  "atrial fibrillation", "hyperlipidemia", "osteoarthritis of the knee", "major depressive "
                  "disorder", "chronic kidney disease stage 3", "asthma", "hypothyroidism"],
    "symptom": ["dyspnea", "myalgia", "fatigue", "intermittent chest pain", "nausea", "dizziness", "headache",
                "a dry cough", "palpitations", "peripheral edema", "joint stiffness", "insomnia"],
    "duration": ["two days", "one week", "three weeks", "several months", "ten days"],
    "bp": lambda rng: f"{rng.randint(104, 178)}/{rng.randint(62, 104)}", "hr": integer(52, 118),
    "spo2": integer(88, 99), "dose": ["5", "10", "20", "25", "40", "50", "81", "100", "250", "500"],
    "lab": ["hemoglobin A1c", "serum creatinine", "potassium", "LDL cholesterol", "TSH", "INR",
            "hemoglobin", "ALT"],
    "labval": lambda rng: f"{rng.uniform(0.5, 9.5):.1f}", "trend": ["improved", "unchanged", "worse"],
    "drug": ["lisinopril", "metformin", "atorvastatin", "amlodipine", "levothyroxine", "warfarin",
             "sertraline", "albuterol", "metoprolol", "hydrochlorothiazide", "amoxicillin", "gabapentin"],
    "freq": ["daily", "bid", "tid", "qid", "qhs", "q8h", "q12h"], "weeks": integer(2, 12),
    "control": ["well controlled", "poorly controlled", "stable", "improving"],
    "warn": ["chest pain", "fainting", "black stools", "a rash", "severe shortness of breath", "blurred vision"],
    "class": ["angiotensin-converting enzyme inhibitor", "biguanide", "HMG-CoA reductase inhibitor",
              "calcium channel blocker", "selective serotonin reuptake inhibitor", "beta blocker",
              "thiazide diuretic", "aminopenicillin"],
    "adverse": ["dizziness", "myalgia", "diarrhea", "headache", "cough", "rash", "nausea", "fatigue",
                "hyperkalemia", "peripheral edema"],
    "contra": ["a history of angioedema", "severe hepatic impairment", "known hypersensitivity to the drug",
               "pregnancy", "active bleeding"],
    "risk": ["gastrointestinal bleeding", "acute kidney injury", "hyperkalemia", "reduced antihypertensive "
             "effect"],
    "hours": integer(1, 12), "crcl": ["30", "45", "50", "60"], "maxdose": ["2,000", "3,000", "4,000", "1,200"],
    "basis": ["renal function", "blood pressure response", "body weight", "clinical response"],
    "lifestyle": ["regular walking", "a low-sodium diet", "losing a little weight", "keeping a symptom diary",
                  "cutting back on alcohol", "sleeping at regular hours"],
    "statin": ["atorvastatin", "simvastatin", "rosuvastatin", "pravastatin"],
    "reason": ["the symptoms may return", "blood pressure can rise quickly", "withdrawal effects can occur",
               "the dose usually needs to be reduced gradually"],
    "refills": ["no", "one", "two", "three"], "qty": ["30", "60", "90", "120"],
}
MEDICAL = [
    Genre("clinical_note", (
        "The patient is a {age}-year-old {person} with a history of {condition} who presents with {symptom} of "
        "{duration} duration.",
        "Review of systems is positive for {symptom} and {symptom}, and negative for [fever or chills|weight "
        "loss|night sweats].",
        "On examination, blood pressure was {bp} mmHg, heart rate {hr} beats per minute, and oxygen saturation "
        "{spo2}% on room air.",
        "Laboratory studies showed a {lab} of {labval}, which is {trend} compared with the [prior|last] visit.",
        "The patient reports myalgia and fatigue since starting {drug} {dose} mg [daily|twice daily].",
        "Assessment is {condition}, currently {control}, with no new [focal findings|complaints].",
        "Plan is to continue {drug} {dose} mg po {freq} and recheck the {lab} in {weeks} weeks.",
        "Dyspnea on exertion has {trend} since the last visit, and there is no [orthopnea|leg swelling].",
        "{drug} {dose} mg was prescribed, Sig: 1 tab po qid pc & hs, with {refills} refills.",
        "Hypertension remains {control} on the current regimen, and the patient was counseled on [sodium "
        "restriction|weight loss|home blood pressure monitoring].",
        "The patient was advised to avoid NSAIDs because of the risk of {risk}.",
        "Follow-up is scheduled in {weeks} weeks, sooner if {warn} develops.",
        "Medication reconciliation was completed, and the patient takes {drug} and {drug} as directed.",
        "Lungs are clear to auscultation bilaterally, and there is no jugular venous distension.",
        "The {person} denies tobacco use and drinks alcohol [rarely|socially|two or three times a week].",
        "An electrocardiogram showed [normal sinus rhythm|sinus tachycardia|atrial fibrillation with a "
        "controlled ventricular rate].",
        "The patient was started on {drug} {dose} mg po {freq} and given written instructions.",
        "Family history is notable for {condition} in a [parent|sibling|grandparent].",
    ), MED_SLOTS),
    Genre("monograph", (
        "{drug} is a {class} indicated for the treatment of {condition} in [adults|adults and adolescents].",
        "The usual adult dose is {dose} mg orally {freq}, adjusted according to {basis}.",
        "In pediatric patients the recommended dose is 5 mg/kg q6h, not to exceed {maxdose} mg per day.",
        "Common adverse reactions include {adverse}, {adverse} and {adverse}.",
        "{drug} is contraindicated in patients with {contra}.",
        "Concomitant use with an NSAID [increases|may increase] the risk of {risk}.",
        "Peak plasma concentrations are reached within {hours} hours, and the elimination half-life is about "
        "{hours} hours.",
        "Dose reduction is recommended in patients with a creatinine clearance below {crcl} mL/min.",
        "Monitor the {lab} at baseline and [periodically|every few months] during therapy.",
        "Use during pregnancy only if the potential benefit justifies the potential risk to the fetus.",
        "Overdose may present with {symptom}, {symptom} and {symptom}, and treatment is supportive.",
        "Store at controlled room temperature and protect from [light and moisture|excessive heat].",
        "Tablets may be taken with or without food, but the timing should be consistent from day to day.",
        "Patients with hypertension should have blood pressure checked within {weeks} weeks of a dose change.",
        "Elderly patients may be more sensitive to {adverse} and should start at the lowest dose.",
        "{drug} is [extensively|partly] metabolized in the liver and excreted mainly in the urine.",
        "Rare but serious reactions include [angioedema|hepatotoxicity|rhabdomyolysis] and "
        "[agranulocytosis|pancreatitis|severe skin reactions].",
    ), MED_SLOTS),
    Genre("patient_qa", (
        "Question: I have been taking {drug} for {condition} and lately I have noticed {symptom}, is that normal?",
        "Answer: {symptom} can be a side effect of {drug}, and it is worth [discussing with|mentioning to] your "
        "doctor.",
        "If you develop {warn}, seek medical attention [right away|immediately].",
        "Many people with {condition} find that {lifestyle} helps to control their symptoms.",
        "Do not stop taking {drug} suddenly without talking to your [prescriber|doctor], because {reason}.",
        "Over-the-counter NSAIDs such as ibuprofen and naproxen can raise blood pressure in people with "
        "hypertension.",
        "Your doctor may order a {lab} test to check how well the treatment is working.",
        "Myalgia, or muscle pain, is a known side effect of statins such as {statin}.",
        "It is usually fine to take {drug} with food, and taking it after meals may reduce stomach upset.",
        "Shortness of breath, also called dyspnea, should always be checked if it comes on suddenly.",
        "Question: Can I take {drug} and {drug} at the same time?",
        "Answer: Ask your pharmacist to review all of your medicines, including vitamins and herbal products.",
        "Keep a list of your medicines and bring it to every appointment.",
        "Question: How long does it take for {drug} to start working?",
        "Answer: Most people notice a change within {weeks} weeks, although the full effect can take longer.",
        "If you miss a dose, take it as soon as you remember, unless it is almost time for the next one.",
    ), MED_SLOTS),
]
